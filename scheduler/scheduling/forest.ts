/**
 * A striped parent forest for one task, after SplitStream (Castro et al., SOSP 2003). Piece n
 * belongs to stripe n mod k; the seed (the root) holds the whole file and roots every stripe; every
 * other member has one parent per stripe. A member forwards in at most one stripe, its forwarding
 * stripe, and is a leaf in all the others, so the interior nodes of different stripes are disjoint:
 * a member that fails or slows down starves its children of one stripe only, and every uplink,
 * each feeding one stripe, is used. A member's `slots` is how many children it can feed at the
 * stripe rate at once. Placement is deterministic (no randomness, ties broken by join order), and
 * every member whose parent moves is reported so the scheduler can tell it.
 *
 * Rules:
 * - Forwarding stripe of a joining member: the stripe with the fewest forwarding members (demoted
 *   ones do not count), ties to the lowest index.
 * - The root's slots are shared over the stripes: stripe s may use floor(slots / k), plus one for
 *   the lowest `slots mod k` stripes, and never less than one (so with slots < k the root feeds k).
 * - Interior attachment of X in stripe s. Candidates: the root and the forwarding members of s,
 *   without X's own subtree and without subtrees still waiting to re-attach. Take the shallowest
 *   depth at which a candidate has a free slot or, being exactly full, a leaf child (a child not
 *   forwarding in s). At that depth the first candidate (root first, then join order) with a free
 *   slot takes X; if none has one, the first full one with a leaf child gives X the place of its
 *   last-joined leaf child, and that leaf moves under X. Failing both, the shallowest overcommitted
 *   candidate with a leaf child does that; with no leaf child anywhere, X overcommits a candidate
 *   as a leaf would. An overcommitted parent comes last because X in a leaf's place there leaves
 *   it overcommitted, and relief (below) would then move X itself, with its subtree.
 *   Pushing a leaf down rather than taking a deeper free slot keeps forwarders near the root and
 *   depth near log_slots(N): taking any free slot first, k = 4 with 16, 33 and 100 members of 4
 *   slots reaches depth 5, 9 and 26 instead of 3, 4 and 5.
 * - Leaf attachment: among candidates with a free slot, the shallowest, ties to the most free
 *   slots, then join order. Without one, the candidate left least loaded for its slots
 *   ((children + 1) / slots), ties to the deepest, then the latest joined. Fewest children first
 *   would overcommit the root, whose share per stripe is small, whenever a stripe runs short: over
 *   the 100 joins above the root would carry 100 children beyond its share (summed over the steps)
 *   instead of 4, and the seed's uplink is the one every stripe leans on. Ties to the shallowest
 *   reach depth 4, 5 and 6 in the case above.
 * - join: interior in the forwarding stripe first, then a leaf in every other stripe in order.
 * - remove / demote: the member's children re-attach in its forwarding stripe, forwarding children
 *   first (each keeps its subtree) by the interior rule, then leaf children by the leaf rule. A
 *   removed member also frees its place in every stripe; a demoted one stays a leaf where it is,
 *   forwards nothing and is never a candidate again.
 * - Relief, after every join, remove and demote: while a parent holds more children than its slots
 *   and a free slot exists outside one of those children's subtrees, that child moves there by the
 *   leaf rule (leaves before forwarders, last joined first, shallowest parent first). Overcommitment
 *   is routine, not a fault: with k slots each, a stripe has about N + 1 slots for N members, so
 *   the members that join before their stripe's next forwarder overcommit someone until it comes
 *   (the very first ones overcommit the root). A demoted member is not moved by its own demotion.
 * - Backups of X in stripe s (at most two, never the primary, X's subtree or a demoted member):
 *   forwarding members of s by depth, most free slots, join order, then the root (whose uplink
 *   every stripe shares, so it is the last resort).
 */

export interface ForestMember {
  readonly id: string;
  readonly slots: number;
}

export interface StripeParents {
  readonly stripe: number;
  readonly parentId: string;
  readonly backupIds: readonly string[];
}

export interface MemberPlan {
  /** The stripe this member forwards in, or undefined when it forwards in none (demoted, or the root). */
  readonly forwardingStripe: number | undefined;
  /** One entry per stripe 0..k-1, in stripe order. */
  readonly parents: readonly StripeParents[];
}

/** Backups offered per stripe: one spare beside the root covers a root that is busy or far. */
export const MAX_BACKUPS = 2;

interface Node {
  readonly id: string;
  readonly slots: number;
  /** Position in join order; the root is -1 so it wins every join-order tie. */
  readonly order: number;
  forwardingStripe: number | undefined;
  /** Parent per stripe; undefined for the root and while a subtree waits to re-attach. */
  readonly parents: (string | undefined)[];
  /** Children per stripe, in attachment order. */
  readonly children: string[][];
}

interface Candidate {
  readonly node: Node;
  readonly depth: number;
  readonly free: number;
}

export class StripeForest {
  readonly stripes: number;
  readonly rootId: string;
  readonly #root: Node;
  readonly #members = new Map<string, Node>();
  #joined = 0;

  constructor(stripes: number, root: ForestMember) {
    if (!Number.isInteger(stripes) || stripes < 1) throw new RangeError(`stripes must be an integer >= 1, got ${stripes}`);
    if (!Number.isInteger(root.slots) || root.slots < 1) throw new RangeError(`root.slots must be an integer >= 1, got ${root.slots}`);
    this.stripes = stripes;
    this.rootId = root.id;
    this.#root = this.#node(root, -1, undefined);
  }

  has(id: string): boolean {
    return this.#members.has(id);
  }

  get size(): number {
    return this.#members.size;
  }

  /** Places a new member; returns the ids of other members whose parent changed (sorted). */
  join(member: ForestMember): string[] {
    if (member.id === this.rootId || this.#members.has(member.id)) throw new RangeError(`member.id ${member.id} is already in the forest`);
    if (!Number.isInteger(member.slots) || member.slots < 1) throw new RangeError(`member.slots must be an integer >= 1, got ${member.slots}`);
    const forwarders = new Array<number>(this.stripes).fill(0);
    for (const node of this.#members.values()) if (node.forwardingStripe !== undefined) forwarders[node.forwardingStripe]!++;
    const stripe = forwarders.indexOf(Math.min(...forwarders));
    const node = this.#node(member, this.#joined++, stripe);
    this.#members.set(node.id, node);
    const pushed = this.#attachInterior(node, stripe, undefined);
    for (let s = 0; s < this.stripes; s++) if (s !== stripe) this.#attachLeaf(node, s);
    return this.#relieve(pushed === undefined ? [] : [pushed], undefined).filter((id) => id !== node.id);
  }

  /** Removes a member that left or failed; returns the members whose parent changed (sorted). */
  remove(id: string): string[] {
    if (id === this.rootId) throw new RangeError(`id ${id} is the root, which cannot be removed`);
    const node = this.#members.get(id);
    if (!node) return [];
    this.#members.delete(id);
    for (let s = 0; s < this.stripes; s++) this.#unlink(node, s);
    return this.#relieve(this.#reattachChildren(node, undefined), undefined);
  }

  /** The member forwards nothing from now on; returns the members whose parent changed (sorted). */
  demote(id: string): string[] {
    if (id === this.rootId) throw new RangeError(`id ${id} is the root, which cannot be demoted`);
    const node = this.#members.get(id);
    if (!node || node.forwardingStripe === undefined) return [];
    node.forwardingStripe = undefined;
    return this.#relieve(this.#reattachChildren(node, node.id), node.id);
  }

  /**
   * Records a switch the child already made; refused into its own subtree, a leaf or a demoted
   * member. It may overcommit the new parent; the next join, remove or demote relieves that.
   */
  reparent(childId: string, stripe: number, parentId: string): boolean {
    const child = this.#members.get(childId);
    const parent = this.#byId(parentId);
    if (!child || !parent || !this.#isStripe(stripe)) return false;
    if (parent !== this.#root && parent.forwardingStripe !== stripe) return false;
    if (this.#inSubtree(parent, child, stripe)) return false;
    if (child.parents[stripe] !== parentId) {
      this.#unlink(child, stripe);
      this.#link(parent, child, stripe);
    }
    return true;
  }

  /** undefined for unknown ids and for the root. */
  planOf(id: string): MemberPlan | undefined {
    const node = this.#members.get(id);
    if (!node) return undefined;
    const parents: StripeParents[] = [];
    for (let stripe = 0; stripe < this.stripes; stripe++) {
      const parentId = node.parents[stripe]!;
      parents.push({ stripe, parentId, backupIds: this.#backups(node, stripe, parentId) });
    }
    return { forwardingStripe: node.forwardingStripe, parents };
  }

  parentOf(id: string, stripe: number): string | undefined {
    return this.#isStripe(stripe) ? this.#members.get(id)?.parents[stripe] : undefined;
  }

  /** In attachment order; [] for unknown ids. */
  childrenOf(id: string, stripe: number): string[] {
    const node = this.#byId(id);
    return node && this.#isStripe(stripe) ? [...node.children[stripe]!] : [];
  }

  /** Hops from the root in that stripe (root 0, its children 1, ...); throws for unknown ids. */
  depthOf(id: string, stripe: number): number {
    const node = this.#byId(id);
    if (!node) throw new RangeError(`id ${id} is not in the forest`);
    if (!this.#isStripe(stripe)) throw new RangeError(`stripe must be an integer in [0, ${this.stripes}), got ${stripe}`);
    return this.#depth(node, stripe)!;
  }

  /** The largest depth of any member in any stripe. */
  get maxDepth(): number {
    let deepest = 0;
    for (const node of this.#members.values()) for (let s = 0; s < this.stripes; s++) deepest = Math.max(deepest, this.#depth(node, s)!);
    return deepest;
  }

  #node(member: ForestMember, order: number, forwardingStripe: number | undefined): Node {
    const children = Array.from({ length: this.stripes }, () => [] as string[]);
    return { id: member.id, slots: member.slots, order, forwardingStripe, parents: new Array(this.stripes).fill(undefined), children };
  }

  #isStripe(stripe: number): boolean {
    return Number.isInteger(stripe) && stripe >= 0 && stripe < this.stripes;
  }

  #capacity(node: Node, stripe: number): number {
    if (node !== this.#root) return node.forwardingStripe === stripe ? node.slots : 0;
    const base = Math.floor(node.slots / this.stripes) + (stripe < node.slots % this.stripes ? 1 : 0);
    return Math.max(1, base);
  }

  #byId(id: string | undefined): Node | undefined {
    return id === this.rootId ? this.#root : id === undefined ? undefined : this.#members.get(id);
  }

  /** Hops to the root, or undefined when the walk ends in a subtree waiting to re-attach. */
  #depth(node: Node, stripe: number): number | undefined {
    let depth = 0;
    for (let at: Node | undefined = node; at !== this.#root; depth++) {
      if (!at) return undefined;
      at = this.#byId(at.parents[stripe]);
    }
    return depth;
  }

  #inSubtree(node: Node, top: Node, stripe: number): boolean {
    for (let at: Node | undefined = node; at && at !== this.#root; at = this.#byId(at.parents[stripe])) if (at === top) return true;
    return false;
  }

  /** The root and forwarding members of the stripe that reach the root, outside `exclude`'s subtree; by depth, then join order. */
  #candidates(stripe: number, exclude: Node | undefined): Candidate[] {
    const found: Candidate[] = [];
    for (const node of [this.#root, ...this.#members.values()]) {
      if (node !== this.#root && node.forwardingStripe !== stripe) continue;
      const depth = this.#depth(node, stripe);
      if (depth === undefined || (exclude && this.#inSubtree(node, exclude, stripe))) continue;
      found.push({ node, depth, free: this.#capacity(node, stripe) - node.children[stripe]!.length });
    }
    return found.sort((a, b) => a.depth - b.depth || a.node.order - b.node.order);
  }

  /** The last-joined child that does not forward in the stripe (and is not `pinned`). */
  #pushableLeaf(parent: Node, stripe: number, pinned: string | undefined): Node | undefined {
    let last: Node | undefined;
    for (const id of parent.children[stripe]!) {
      const child = this.#members.get(id)!;
      if (child.forwardingStripe === stripe || id === pinned) continue;
      if (!last || child.order > last.order) last = child;
    }
    return last;
  }

  /** Returns the leaf that `node` pushed down, if it pushed one. */
  #attachInterior(node: Node, stripe: number, pinned: string | undefined): string | undefined {
    const candidates = this.#candidates(stripe, node);
    const pushable = (c: Candidate) => this.#pushableLeaf(c.node, stripe, pinned) !== undefined;
    const open = candidates.find((c) => c.free > 0 || (c.free === 0 && pushable(c))) ?? candidates.find(pushable);
    const roomy = open && candidates.find((c) => c.depth === open.depth && c.free > 0);
    if (!open || roomy) {
      this.#link(roomy?.node ?? this.#leastLoaded(candidates, stripe), node, stripe);
      return undefined;
    }
    const leaf = this.#pushableLeaf(open.node, stripe, pinned)!;
    const siblings = open.node.children[stripe]!;
    siblings[siblings.indexOf(leaf.id)] = node.id;
    node.parents[stripe] = open.node.id;
    leaf.parents[stripe] = undefined;
    this.#link(node, leaf, stripe);
    return leaf.id;
  }

  /** Moves children of overcommitted parents to free slots (leaf rule) while it can; returns them and `changed`, sorted. */
  #relieve(changed: Iterable<string>, pinned: string | undefined): string[] {
    const all = new Set(changed);
    for (let s = 0; s < this.stripes; s++) {
      for (let child = this.#excessChild(s, pinned); child; child = this.#excessChild(s, pinned)) {
        this.#unlink(child, s);
        this.#attachLeaf(child, s);
        all.add(child.id);
      }
    }
    return [...all].sort();
  }

  /** The first child of the shallowest overcommitted parent with a free slot outside its subtree: leaves before forwarders, last joined first. */
  #excessChild(stripe: number, pinned: string | undefined): Node | undefined {
    const candidates = this.#candidates(stripe, undefined);
    const free = candidates.filter((c) => c.free > 0);
    if (free.length === 0) return undefined;
    for (const over of candidates.filter((c) => c.free < 0)) {
      const children = over.node.children[stripe]!.filter((id) => id !== pinned).map((id) => this.#members.get(id)!);
      children.sort((a, b) => Number(a.forwardingStripe === stripe) - Number(b.forwardingStripe === stripe) || b.order - a.order);
      const movable = children.find((child) => free.some((c) => !this.#inSubtree(c.node, child, stripe)));
      if (movable) return movable;
    }
    return undefined;
  }

  #attachLeaf(node: Node, stripe: number): void {
    const candidates = this.#candidates(stripe, node);
    const free = candidates.filter((c) => c.free > 0).sort((a, b) => a.depth - b.depth || b.free - a.free || a.node.order - b.node.order);
    this.#link(free[0]?.node ?? this.#leastLoaded(candidates, stripe), node, stripe);
  }

  /** The overcommit choice: least loaded for its slots once it takes one more, ties to the deepest, then the latest joined. */
  #leastLoaded(candidates: readonly Candidate[], stripe: number): Node {
    const load = (node: Node) => (node.children[stripe]!.length + 1) / this.#capacity(node, stripe);
    let best = candidates[0]!.node;
    for (const { node } of candidates) if (load(node) <= load(best)) best = node;
    return best;
  }

  #reattachChildren(node: Node, pinned: string | undefined): Set<string> {
    const changed = new Set<string>();
    for (let s = 0; s < this.stripes; s++) {
      const children = node.children[s]!.map((id) => this.#members.get(id)!);
      node.children[s] = [];
      for (const child of children) {
        child.parents[s] = undefined;
        changed.add(child.id);
      }
      for (const child of children.filter((c) => c.forwardingStripe === s)) {
        const pushed = this.#attachInterior(child, s, pinned);
        if (pushed !== undefined) changed.add(pushed);
      }
      for (const child of children.filter((c) => c.forwardingStripe !== s)) this.#attachLeaf(child, s);
    }
    return changed;
  }

  #backups(node: Node, stripe: number, primary: string): string[] {
    const others = this.#candidates(stripe, node)
      .filter((c) => c.node !== this.#root && c.node.id !== primary)
      .sort((a, b) => a.depth - b.depth || b.free - a.free || a.node.order - b.node.order);
    // The root last: its uplink feeds every stripe, so children that fall back on it first starve
    // all the others (seen on simulated hosts: 16 peers in 4 stripes piled onto the seed).
    const backups = others.slice(0, primary === this.rootId ? MAX_BACKUPS : MAX_BACKUPS - 1).map((c) => c.node.id);
    if (primary !== this.rootId) backups.push(this.rootId);
    return backups;
  }

  #link(parent: Node, child: Node, stripe: number): void {
    parent.children[stripe]!.push(child.id);
    child.parents[stripe] = parent.id;
  }

  #unlink(child: Node, stripe: number): void {
    const parentId = child.parents[stripe];
    if (parentId === undefined) return;
    const siblings = this.#byId(parentId)?.children[stripe];
    if (siblings) siblings.splice(siblings.indexOf(child.id), 1);
    child.parents[stripe] = undefined;
  }
}
