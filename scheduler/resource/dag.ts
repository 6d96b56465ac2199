/**
 * A directed acyclic graph of a task's peers: an edge parent -> child means the child downloads
 * from the parent. Edges that would close a cycle are refused. Vertices also live in an array so a
 * random sample costs O(sample), not O(peers).
 */

export class DagError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DagError';
  }
}

export interface Vertex<V> {
  readonly id: string;
  readonly value: V;
  readonly parents: Set<Vertex<V>>;
  readonly children: Set<Vertex<V>>;
}

interface IndexedVertex<V> extends Vertex<V> {
  index: number;
}

export class Dag<V> {
  private readonly byId = new Map<string, IndexedVertex<V>>();
  private readonly list: IndexedVertex<V>[] = [];

  get size(): number {
    return this.list.length;
  }

  has(id: string): boolean {
    return this.byId.has(id);
  }

  get(id: string): Vertex<V> | undefined {
    return this.byId.get(id);
  }

  addVertex(id: string, value: V): Vertex<V> {
    if (this.byId.has(id)) throw new DagError(`vertex ${id} already exists`);
    const vertex: IndexedVertex<V> = { id, value, parents: new Set(), children: new Set(), index: this.list.length };
    this.byId.set(id, vertex);
    this.list.push(vertex);
    return vertex;
  }

  /** Removes the vertex and every edge touching it. */
  deleteVertex(id: string): void {
    const vertex = this.byId.get(id);
    if (!vertex) return;
    for (const parent of vertex.parents) parent.children.delete(vertex);
    for (const child of vertex.children) child.parents.delete(vertex);
    this.byId.delete(id);
    // Swap-remove keeps the array dense.
    const last = this.list.pop()!;
    if (last !== vertex) {
      this.list[vertex.index] = last;
      last.index = vertex.index;
    }
  }

  /** False when either vertex is missing, the edge exists, it is a self-loop, or it would close a cycle. */
  canAddEdge(from: string, to: string): boolean {
    if (from === to) return false;
    const parent = this.byId.get(from);
    const child = this.byId.get(to);
    if (!parent || !child) return false;
    if (parent.children.has(child)) return false;
    return !this.reaches(child, parent);
  }

  addEdge(from: string, to: string): void {
    if (!this.canAddEdge(from, to)) throw new DagError(`cannot add edge ${from} -> ${to}`);
    const parent = this.byId.get(from)!;
    const child = this.byId.get(to)!;
    parent.children.add(child);
    child.parents.add(parent);
  }

  deleteEdge(from: string, to: string): void {
    const parent = this.byId.get(from);
    const child = this.byId.get(to);
    if (!parent || !child) return;
    parent.children.delete(child);
    child.parents.delete(parent);
  }

  deleteInEdges(id: string): void {
    const vertex = this.byId.get(id);
    if (!vertex) return;
    for (const parent of vertex.parents) parent.children.delete(vertex);
    vertex.parents.clear();
  }

  deleteOutEdges(id: string): void {
    const vertex = this.byId.get(id);
    if (!vertex) return;
    for (const child of vertex.children) child.parents.delete(vertex);
    vertex.children.clear();
  }

  inDegree(id: string): number | undefined {
    return this.byId.get(id)?.parents.size;
  }

  outDegree(id: string): number | undefined {
    return this.byId.get(id)?.children.size;
  }

  values(): V[] {
    return this.list.map((vertex) => vertex.value);
  }

  /** Up to `n` distinct vertices' values in random order. */
  randomValues(n: number, random: () => number = Math.random): V[] {
    const size = this.list.length;
    const take = Math.min(n, size);
    if (take <= 0) return [];
    if (take * 2 >= size) {
      // Dense: partial Fisher-Yates on a copy.
      const copy = this.list.slice();
      for (let i = 0; i < take; i++) {
        const j = i + Math.floor(random() * (size - i));
        [copy[i], copy[j]] = [copy[j]!, copy[i]!];
      }
      return copy.slice(0, take).map((vertex) => vertex.value);
    }
    // Sparse: rejection sampling touches ~take vertices.
    const picked = new Set<number>();
    while (picked.size < take) picked.add(Math.floor(random() * size));
    return [...picked].map((i) => this.list[i]!.value);
  }

  /** Whether `target` is reachable from `start` along child edges. */
  private reaches(start: IndexedVertex<V> | Vertex<V>, target: Vertex<V>): boolean {
    if (start === target) return true;
    const seen = new Set<Vertex<V>>([start]);
    const stack: Vertex<V>[] = [start];
    while (stack.length > 0) {
      const vertex = stack.pop()!;
      for (const child of vertex.children) {
        if (child === target) return true;
        if (!seen.has(child)) {
          seen.add(child);
          stack.push(child);
        }
      }
    }
    return false;
  }
}
