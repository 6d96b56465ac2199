/**
 * Per-parent connections (undici pools, gRPC clients) kept by address and closed once the parent
 * has had nothing to do for a while. A long-running daemon meets thousands of parents over its
 * life, most of them for one task; without this each would keep a map entry, and its sockets until
 * the other side drops them. A parent used again later gets a fresh one on demand.
 */

/** How long a parent's connections stay open with nothing to do; a parent still serving is never idle. */
export const PARENT_IDLE_CLOSE_MS = 60_000;

export interface IdleCacheOptions<V> {
  /** Closed after this long with no use and nothing in flight. */
  readonly idleMs: number;
  readonly open: (key: string) => V;
  /** True while the value has work in flight: it is not closed then, whatever the last use. */
  readonly busy: (value: V) => boolean;
  readonly close: (value: V) => Promise<void> | void;
}

interface Entry<V> {
  readonly value: V;
  lastUsed: number;
  timer: NodeJS.Timeout;
}

export class IdleCache<V> {
  readonly #options: IdleCacheOptions<V>;
  readonly #entries = new Map<string, Entry<V>>();

  constructor(options: IdleCacheOptions<V>) {
    if (!(options.idleMs > 0)) throw new RangeError(`idleMs must be above 0, got ${options.idleMs}`);
    this.#options = options;
  }

  /** The value for `key`, opened if there is none (or it was closed as idle); counts as a use. */
  use(key: string): V {
    const entry = this.#entries.get(key);
    if (entry) {
      entry.lastUsed = performance.now();
      return entry.value;
    }
    const value = this.#options.open(key);
    const created: Entry<V> = { value, lastUsed: performance.now(), timer: this.#arm(key, this.#options.idleMs) };
    this.#entries.set(key, created);
    return value;
  }

  /** Counts as a use of `key` if it is open (work on it just ended); opens nothing. */
  touch(key: string): void {
    const entry = this.#entries.get(key);
    if (entry) entry.lastUsed = performance.now();
  }

  has(key: string): boolean {
    return this.#entries.has(key);
  }

  get size(): number {
    return this.#entries.size;
  }

  /** Closes and drops the value for `key` now. */
  async delete(key: string): Promise<void> {
    const entry = this.#entries.get(key);
    if (!entry) return;
    this.#entries.delete(key);
    clearTimeout(entry.timer);
    await this.#options.close(entry.value);
  }

  async close(): Promise<void> {
    await Promise.all([...this.#entries.keys()].map((key) => this.delete(key)));
  }

  #arm(key: string, delayMs: number): NodeJS.Timeout {
    // Unref'd: an idle pool must not keep a daemon (or a test) alive.
    return setTimeout(() => this.#check(key), delayMs).unref();
  }

  #check(key: string): void {
    const entry = this.#entries.get(key);
    if (!entry) return;
    const { idleMs, busy } = this.#options;
    const idleFor = performance.now() - entry.lastUsed;
    if (busy(entry.value)) {
      entry.timer = this.#arm(key, idleMs);
    } else if (idleFor < idleMs) {
      entry.timer = this.#arm(key, idleMs - idleFor);
    } else {
      // Dropped from the map either way; a value that fails to close has nothing left to do.
      void this.delete(key).catch(() => {});
    }
  }
}
