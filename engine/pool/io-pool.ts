/** A thin class over piscina: the main thread only moves bytes, workers hash them. */
import { MessageChannel } from 'node:worker_threads';
import { Piscina } from 'piscina';
import type { HashStreamMessage, IoTask, RangeAlgorithm } from './messages.ts';

export interface StreamingHash {
  /** The next `length` bytes after everything already pushed are on disk. */
  push(offset: number, length: number): void;
  /** Resolves the hex digest (crc32: decimal) of everything pushed. */
  finish(): Promise<string>;
  /** Stops the worker's job; finish() then rejects. */
  cancel(): void;
}

export class IoPool {
  readonly #piscina: Piscina<IoTask, string>;

  constructor(options: { threads: number }) {
    this.#piscina = new Piscina({
      filename: new URL('./io-worker.ts', import.meta.url).href,
      // Lazily: a download without a digest to check never hashes, and each worker is an isolate
      // of its own (~23 MB with a warm compile cache, ~50 MB without).
      minThreads: 0,
      maxThreads: options.threads,
      idleTimeout: 30_000,
    });
  }

  get threads(): number {
    return this.#piscina.threads.length;
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
    await this.#piscina.close();
  }
}
