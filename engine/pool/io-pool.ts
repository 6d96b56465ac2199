/** A thin class over piscina: the main thread only moves bytes, workers hash them. */
import { createRequire } from 'node:module';
import { MessageChannel } from 'node:worker_threads';
import type { Piscina } from 'piscina';
import type { HashStreamMessage, IoTask, RangeAlgorithm } from './messages.ts';

export interface StreamingHash {
  /** The next `length` bytes after everything already pushed are on disk. */
  push(offset: number, length: number): void;
  /** The next bytes after everything already pushed, from memory (copied to the worker). */
  pushBytes(offset: number, data: Uint8Array): void;
  /** Resolves the hex digest (crc32: decimal) of everything pushed. */
  finish(): Promise<string>;
  /** Stops the worker's job; finish() then rejects. */
  cancel(): void;
}

export class IoPool {
  readonly #threads: number;
  #pool: Piscina<IoTask, string> | undefined;

  constructor(options: { threads: number }) {
    this.#threads = options.threads;
  }

  /**
   * Made on first use, piscina's module too (~20 ms of a short dfget's start): a download without
   * a digest to check never hashes. require() keeps this synchronous; piscina is CommonJS.
   */
  get #piscina(): Piscina<IoTask, string> {
    if (this.#pool === undefined) {
      const { Piscina: Pool } = createRequire(import.meta.url)('piscina') as typeof import('piscina');
      this.#pool = new Pool({
        filename: new URL('./io-worker.ts', import.meta.url).href,
        // Workers start lazily too: each is an isolate of its own (~23 MB with a warm compile
        // cache, ~50 MB without).
        minThreads: 0,
        maxThreads: this.#threads,
        idleTimeout: 30_000,
      });
    }
    return this.#pool;
  }

  get threads(): number {
    return this.#pool?.threads.length ?? 0;
  }

  hashRange(path: string, offset: number, length: number, algorithm: RangeAlgorithm, signal?: AbortSignal): Promise<string> {
    return this.#piscina.run({ type: 'hashRange', path, offset, length, algorithm }, { signal });
  }

  /** Hashes a file in order while it is written, on one worker, overlapping the download. */
  hashStream(path: string, algorithm: RangeAlgorithm): StreamingHash {
    const { port1, port2 } = new MessageChannel();
    const abort = new AbortController();
    const result = this.#piscina.run({ type: 'hashStream', path, algorithm, port: port2 }, { transferList: [port2], signal: abort.signal });
    // Until finish() is awaited a failure would be unhandled; it is reported through finish().
    result.catch(() => {});
    const post = (message: HashStreamMessage) => port1.postMessage(message);
    return {
      push: (offset, length) => post({ type: 'range', offset, length }),
      pushBytes: (offset, data) => post({ type: 'bytes', offset, data }),
      finish: async () => {
        post({ type: 'end' });
        try {
          return await result;
        } finally {
          port1.close();
        }
      },
      cancel: () => {
        abort.abort();
        port1.close();
      },
    };
  }

  async close(): Promise<void> {
    await this.#pool?.close();
  }
}
