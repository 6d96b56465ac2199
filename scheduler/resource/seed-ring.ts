/**
 * Consistent-hash ring of seed hosts, keyed by task id (Dragonfly's `seed_peer.go::Select`): every
 * scheduler picks the same seed for a task, and adding or removing one seed moves only about
 * 1/N of the tasks. Each host stands on the ring at `replicas` virtual points to even out the load.
 */
import { createHash } from 'node:crypto';

export const DEFAULT_RING_REPLICAS = 160;

/** First 8 hex digits of sha256: uniform enough, and stable across processes and versions. */
export function ringHash(key: string): number {
  return Number.parseInt(createHash('sha256').update(key).digest('hex').slice(0, 8), 16);
}

export class HashRing {
  readonly replicas: number;
  private readonly members = new Set<string>();
  private points: { hash: number; id: string }[] = [];

  constructor(replicas = DEFAULT_RING_REPLICAS) {
    if (!Number.isInteger(replicas) || replicas < 1) throw new RangeError(`replicas must be a positive integer, got ${replicas}`);
    this.replicas = replicas;
  }

  get size(): number {
    return this.members.size;
  }

  has(id: string): boolean {
    return this.members.has(id);
  }

  ids(): string[] {
    return [...this.members];
  }

  add(id: string): void {
    if (this.members.has(id)) return;
    this.members.add(id);
    this.rebuild();
  }

  remove(id: string): void {
    if (this.members.delete(id)) this.rebuild();
  }

  /** The member owning `key`: the first virtual point clockwise from the key's hash. */
  pick(key: string): string | undefined {
    const points = this.points;
    if (points.length === 0) return undefined;
    const hash = ringHash(key);
    let low = 0;
    let high = points.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if (points[mid]!.hash < hash) low = mid + 1;
      else high = mid;
    }
    return points[low === points.length ? 0 : low]!.id;
  }

  private rebuild(): void {
    const points: { hash: number; id: string }[] = [];
    for (const id of this.members) {
      for (let i = 0; i < this.replicas; i++) points.push({ hash: ringHash(`${id}#${i}`), id });
    }
    // Ties (astronomically rare) break by id so every process builds the same ring.
    points.sort((a, b) => a.hash - b.hash || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    this.points = points;
  }
}
