/**
 * The parent edges of a task's striped forest, kept beside the DAG rather than in it: a member
 * forwards in one stripe and is a leaf in the others, so A may feed B in stripe 0 while B feeds A
 * in stripe 1, a cycle the DAG would refuse. Each stripe on its own is a tree (the forest sees to
 * that). Only children still downloading from parents have edges here, so the degrees mean what the
 * DAG's mean: being fed, and serving someone. Each edge remembers the load it put on its parent's
 * host, so taking it back gives back exactly that.
 */

/** The projected load one edge put on its parent's host. */
export interface EdgeLoad {
  readonly bandwidth: number;
  readonly pieces: number;
  readonly contentLength: number;
}

export class StripeEdges {
  /** child id -> parent id -> the load charged to that parent. */
  readonly #parents = new Map<string, Map<string, EdgeLoad>>();
  /** parent id -> child ids. */
  readonly #children = new Map<string, Set<string>>();

  /** Distinct parents of the child. */
  inDegree(id: string): number {
    return this.#parents.get(id)?.size ?? 0;
  }

  /** Distinct children the parent feeds. */
  outDegree(id: string): number {
    return this.#children.get(id)?.size ?? 0;
  }

  parentsOf(id: string): ReadonlyMap<string, EdgeLoad> {
    return this.#parents.get(id) ?? new Map();
  }

  /** Replaces the child's edges; returns the ones it had. */
  set(childId: string, parents: ReadonlyMap<string, EdgeLoad>): Map<string, EdgeLoad> {
    const old = this.deleteIn(childId);
    if (parents.size === 0) return old;
    this.#parents.set(childId, new Map(parents));
    for (const parentId of parents.keys()) {
      let children = this.#children.get(parentId);
      if (!children) this.#children.set(parentId, (children = new Set()));
      children.add(childId);
    }
    return old;
  }

  /** Removes the child's edges; returns them. */
  deleteIn(childId: string): Map<string, EdgeLoad> {
    const old = this.#parents.get(childId);
    if (!old) return new Map();
    this.#parents.delete(childId);
    for (const parentId of old.keys()) {
      const children = this.#children.get(parentId);
      children?.delete(childId);
      if (children?.size === 0) this.#children.delete(parentId);
    }
    return old;
  }

  /** Removes the parent's edges; returns each child with the load its edge had charged. */
  deleteOut(parentId: string): [string, EdgeLoad][] {
    const children = this.#children.get(parentId);
    if (!children) return [];
    this.#children.delete(parentId);
    const removed: [string, EdgeLoad][] = [];
    for (const childId of children) {
      const parents = this.#parents.get(childId)!;
      removed.push([childId, parents.get(parentId)!]);
      parents.delete(parentId);
      if (parents.size === 0) this.#parents.delete(childId);
    }
    return removed;
  }
}
