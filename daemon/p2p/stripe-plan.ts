/**
 * The striped plan a scheduler may send with its candidate parents (NormalTaskResponse fields 100
 * and 101, ours, not Dragonfly's): piece n belongs to stripe n mod k, and each stripe has its
 * parents in order, the primary then up to two backups. The plan remembers, per stripe, which of
 * them is current; a stripe whose parents are all used up has none, and its pieces then come from
 * any holder as in Dragonfly's DAG. Pure.
 */
import type { schedulerv2 } from '../../api/index.ts';

export class StripePlan {
  readonly stripeCount: number;
  /** stripe -> parent ids in order, primary first. */
  readonly #parents: ReadonlyMap<number, readonly string[]>;
  /** stripe -> index of its current parent in #parents (past the end: exhausted). */
  readonly #current = new Map<number, number>();

  constructor(stripeCount: number, stripes: Iterable<{ readonly stripe: number; readonly parents: readonly string[] }>) {
    this.stripeCount = stripeCount;
    const parents = new Map<number, readonly string[]>();
    for (const { stripe, parents: ids } of stripes) {
      // An entry for a stripe that does not exist, or a second one for the same stripe, is ignored:
      // the first tells who serves it, and a duplicated id adds no fallback.
      if (!Number.isInteger(stripe) || stripe < 0 || stripe >= stripeCount || parents.has(stripe)) continue;
      parents.set(stripe, [...new Set(ids.filter((id) => id !== ''))]);
      this.#current.set(stripe, 0);
    }
    this.#parents = parents;
  }

  /**
   * The plan in a scheduler's answer, or undefined when it has none: stripe_count 0 or 1 (what a
   * Dragonfly scheduler sends) or no stripe_parents mean "any parent for any piece", as before.
   */
  static of(response: Pick<schedulerv2.NormalTaskResponse__Output, 'stripeCount' | 'stripeParents'> | null | undefined): StripePlan | undefined {
    const count = response?.stripeCount ?? 0;
    const stripes = response?.stripeParents ?? [];
    if (count < 2 || stripes.length === 0) return undefined;
    return new StripePlan(
      count,
      stripes.map((entry) => ({ stripe: entry.stripe, parents: [entry.parentId, ...(entry.backupIds ?? [])] })),
    );
  }

  stripeOf(piece: number): number {
    return piece % this.stripeCount;
  }

  /** Parents of `stripe` in order, primary first (empty for a stripe the plan does not name). */
  parents(stripe: number): readonly string[] {
    return this.#parents.get(stripe) ?? [];
  }

  /** The parent `stripe`'s pieces come from now; undefined once all are used up (or none named). */
  current(stripe: number): string | undefined {
    return this.#parents.get(stripe)?.[this.#current.get(stripe) ?? 0];
  }

  /** Parents after the current one of `stripe`, in order. */
  later(stripe: number): readonly string[] {
    return this.parents(stripe).slice((this.#current.get(stripe) ?? 0) + 1);
  }

  /**
   * Leaves `parentId` for `stripe`'s next parent, returned (undefined: all used up). When
   * `parentId` is not the stripe's current parent nothing changes (it was left already) and the
   * current one is returned.
   */
  switchFrom(stripe: number, parentId: string): string | undefined {
    const at = this.#current.get(stripe);
    if (at === undefined) return undefined;
    if (this.#parents.get(stripe)?.[at] !== parentId) return this.current(stripe);
    this.#current.set(stripe, at + 1);
    return this.current(stripe);
  }

  /** Stripes whose current parent is `parentId`. */
  stripesOf(parentId: string): number[] {
    const out: number[] = [];
    for (const stripe of this.#parents.keys()) if (this.current(stripe) === parentId) out.push(stripe);
    return out.sort((a, b) => a - b);
  }

  /** Stripes that still have a current parent, in order. */
  stripes(): number[] {
    return [...this.#parents.keys()].filter((stripe) => this.current(stripe) !== undefined).sort((a, b) => a - b);
  }
}

/**
 * The plan in force for one download: each NormalTaskResponse on the AnnouncePeer stream replaces
 * it whole (the scheduler re-attached this peer), and `version` tells a reader that it changed.
 */
export class PlanSlot {
  #plan: StripePlan | undefined;
  #version = 0;

  get plan(): StripePlan | undefined {
    return this.#plan;
  }

  get version(): number {
    return this.#version;
  }

  /** Takes the plan of a newer answer (undefined: none, every parent may serve every piece). */
  replace(plan: StripePlan | undefined): void {
    this.#plan = plan;
    this.#version++;
  }
}
