/**
 * A token bucket over bytes, charged a whole piece at a time as Dragonfly's limiters are: a take
 * larger than the bucket is allowed and pushes it into debt, which later takes wait out. Takers
 * queue in arrival order because each one's wait includes the debt of those before it.
 */
import { setTimeout as sleep } from 'node:timers/promises';

export interface TokenBucketOptions {
  /** Bytes per second; 0 or Infinity means no limit. */
  readonly bytesPerSecond: number;
  /** Bytes that may pass at once after an idle spell; default one second's worth. */
  readonly burstBytes?: number | undefined;
  /** Clock in milliseconds, for tests. */
  readonly now?: (() => number) | undefined;
}

export class TokenBucket {
  readonly bytesPerSecond: number;
  readonly #burst: number;
  readonly #now: () => number;
  #tokens: number;
  #at: number;

  constructor(options: TokenBucketOptions) {
    const rate = options.bytesPerSecond;
    if (!(rate >= 0)) throw new RangeError(`bytesPerSecond must be >= 0, got ${rate}`);
    this.bytesPerSecond = rate === 0 ? Infinity : rate;
    this.#burst = options.burstBytes ?? this.bytesPerSecond;
    this.#now = options.now ?? (() => performance.now());
    this.#tokens = this.#burst;
    this.#at = this.#now();
  }

  get unlimited(): boolean {
    return this.bytesPerSecond === Infinity;
  }

  /** Milliseconds the caller must wait before sending `bytes`; the bytes are charged now. */
  reserve(bytes: number): number {
    if (this.unlimited || bytes <= 0) return 0;
    const now = this.#now();
    this.#tokens = Math.min(this.#burst, this.#tokens + ((now - this.#at) / 1000) * this.bytesPerSecond);
    this.#at = now;
    this.#tokens -= bytes;
    return this.#tokens >= 0 ? 0 : (-this.#tokens / this.bytesPerSecond) * 1000;
  }

  /** Waits until `bytes` may pass. An abort leaves the charge in place (the bytes were promised). */
  async take(bytes: number, signal?: AbortSignal): Promise<void> {
    const waitMs = this.reserve(bytes);
    if (waitMs > 0) await sleep(Math.ceil(waitMs), undefined, { signal });
  }
}
