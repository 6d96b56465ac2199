/**
 * Which links are slow, measured as pieces arrive, and what readers do about it: kept-alive
 * connections and one piece at a time (see the two constants).
 */
import type { DirectBody } from './source.ts';

/**
 * Below this rate (bytes/s, all pieces in flight from one address together) a new connection per
 * piece costs more than copying the bytes through JS: readers then keep connections alive.
 * A new connection pays a handshake and a slow start, and on a link whose queue is full (every
 * link of a busy swarm: a host's ACKs share a queue with the pieces it receives) each takes
 * several round trips of up to the queue's delay; measured on simulated 100 Mbit/s hosts
 * (bench:swarm) a chain of peers then moved 80 Mbit/s instead of 95. The JS copy costs about 3 s
 * of CPU per GiB: a few percent of a core at such rates, a whole core on a fast link.
 */
export const KEEP_ALIVE_BELOW_BYTES_PER_SECOND = 32 * 1024 * 1024;

/**
 * Pieces in flight at once from one slow address. On a slow link more pieces at once only split
 * the same bandwidth, so each piece takes that many times longer to complete, and a peer can pass
 * a piece on only once it is complete: every hop of a swarm waits that much longer. Over a kept-
 * alive connection one piece at a time keeps the link busy. Measured with bench:swarm on 100 Mbit/s
 * hosts: in a chain of 4 peers each hop took 2.5 s with 8 pieces at once and 0.5 s with one; 16
 * peers were all done in 45 s with two at once, in 39 s with one.
 */
export const SLOW_LINK_PIECES_IN_FLIGHT = 1;

/** Weight of the past at each finished piece: about the last ten pieces count. */
export const LINK_RATE_DECAY = 0.9;

interface Link {
  bytes: number;
  busyMs: number;
  inFlight: number;
  busySince: number;
  samples: number;
}

/**
 * How fast pieces arrive from one address (an origin, a parent's piece server), all its pieces in
 * flight together: bytes delivered over the time at least one piece was on the way, older pieces
 * fading out (each finished piece keeps LINK_RATE_DECAY of what came before). A failed piece adds
 * its time but no bytes. Pure apart from the clock, which tests pass in.
 */
export class LinkRates {
  readonly #links = new Map<string, Link>();
  readonly #now: () => number;

  constructor(now: () => number = () => performance.now()) {
    this.#now = now;
  }

  /** A piece from `key` starts; call the result once with its bytes when it is in, or undefined when it failed. */
  start(key: string): (bytes: number | undefined) => void {
    let link = this.#links.get(key);
    if (!link) this.#links.set(key, (link = { bytes: 0, busyMs: 0, inFlight: 0, busySince: 0, samples: 0 }));
    const now = this.#now();
    if (link.inFlight === 0) link.busySince = now;
    link.inFlight++;
    let ended = false;
    const entry = link;
    return (bytes) => {
      if (ended) return;
      ended = true;
      const at = this.#now();
      // Close the busy span so far, then fade it with the bytes it carried.
      entry.busyMs += at - entry.busySince;
      entry.busySince = at;
      entry.inFlight--;
      if (bytes !== undefined) {
        entry.bytes = entry.bytes * LINK_RATE_DECAY + bytes;
        entry.busyMs *= LINK_RATE_DECAY;
        entry.samples++;
      }
    };
  }

  /** Bytes per second from `key`, undefined before its first finished piece. */
  rate(key: string): number | undefined {
    const link = this.#links.get(key);
    if (!link || link.samples === 0) return undefined;
    const busyMs = link.busyMs + (link.inFlight > 0 ? this.#now() - link.busySince : 0);
    return busyMs > 0 ? (link.bytes * 1000) / busyMs : Number.POSITIVE_INFINITY;
  }

  /** True once `key` is known to deliver slower than KEEP_ALIVE_BELOW_BYTES_PER_SECOND. */
  isSlow(key: string): boolean {
    return (this.rate(key) ?? Number.POSITIVE_INFINITY) < KEEP_ALIVE_BELOW_BYTES_PER_SECOND;
  }

  forget(key: string): void {
    this.#links.delete(key);
  }
}

/** The rates this process measured, by `host:port`: origins and parents share what they learn. */
export const linkRates = new LinkRates();

/**
 * `body`, reporting to `done` once it is all in (its bytes) or failed (undefined), whichever way
 * the engine takes it: receiveInto, or iteration.
 */
export function timedBody(body: AsyncIterable<Uint8Array>, length: number, done: (bytes: number | undefined) => void): AsyncIterable<Uint8Array> {
  const iterate = async function* (): AsyncIterable<Uint8Array> {
    let ok = false;
    try {
      yield* body;
      ok = true;
    } finally {
      done(ok ? length : undefined);
    }
  };
  const direct = body as Partial<DirectBody> & AsyncIterable<Uint8Array>;
  if (typeof direct.receiveInto !== 'function') return iterate();
  const receiveInto = direct.receiveInto.bind(direct);
  const wrapped: DirectBody & AsyncIterable<Uint8Array> = {
    async receiveInto(fd, position, size, onWritten) {
      try {
        const result = await receiveInto(fd, position, size, onWritten);
        done(result.bytes);
        return result;
      } catch (error) {
        done(undefined);
        throw error;
      }
    },
    [Symbol.asyncIterator]: () => iterate()[Symbol.asyncIterator](),
  };
  return wrapped;
}
