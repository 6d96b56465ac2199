/**
 * Pieces still arriving in a task: for each attempt at a piece, how many of its bytes are already
 * written at their offsets (a watermark the writer advances after each write), and how the attempt
 * ended. A piece server relays such a piece to a child that asked for it, reading up to the
 * watermark; it learns the piece's digest only when the attempt is recorded (after its own crc32
 * check), and cuts the body when the attempt fails. Each attempt is its own receipt, so a reader
 * following a failed attempt never mistakes a retry's bytes for its own.
 */
import type { PieceRange } from '../../api/index.ts';

export type ReceiptState = 'receiving' | 'recorded' | 'failed';

export class PieceReceipt {
  readonly number: number;
  readonly offset: number;
  readonly length: number;
  #written = 0;
  #state: ReceiptState = 'receiving';
  #waiters: Array<() => void> = [];

  constructor(range: PieceRange) {
    this.number = range.number;
    this.offset = range.offset;
    this.length = range.length;
  }

  /** Bytes from the piece's start that are written to the task file. */
  get written(): number {
    return this.#written;
  }

  get state(): ReceiptState {
    return this.#state;
  }

  /** `count` more bytes are written, right after the ones before. */
  advance(count: number): void {
    if (this.#state !== 'receiving' || count <= 0) return;
    this.#written = Math.min(this.length, this.#written + count);
    this.#wake();
  }

  /** The attempt failed (or the task closed): readers cut what they relay. */
  fail(): void {
    if (this.#state !== 'receiving') return;
    this.#state = 'failed';
    this.#wake();
  }

  /** The piece passed its crc32 check and is recorded. */
  recorded(): void {
    if (this.#state !== 'receiving') return;
    this.#state = 'recorded';
    this.#wake();
  }

  /** Resolves once more than `written` bytes are there, or the attempt ended, or `signal` aborts. */
  changed(written: number, signal: AbortSignal): Promise<void> {
    if (this.#state !== 'receiving' || this.#written > written || signal.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        signal.removeEventListener('abort', done);
        resolve();
      };
      signal.addEventListener('abort', done, { once: true });
      this.#waiters.push(done);
    });
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const done of waiters) done();
  }
}

export class PieceProgress {
  readonly #receiving = new Map<number, PieceReceipt>();
  readonly #onStart = new Set<(receipt: PieceReceipt) => void>();

  /** A new attempt at a piece; an attempt still open for it is failed first. */
  start(range: PieceRange): PieceReceipt {
    this.#receiving.get(range.number)?.fail();
    const receipt = new PieceReceipt(range);
    this.#receiving.set(range.number, receipt);
    for (const listener of [...this.#onStart]) listener(receipt);
    return receipt;
  }

  /** The attempt at `number` now arriving, if any. */
  receiving(number: number): PieceReceipt | undefined {
    const receipt = this.#receiving.get(number);
    return receipt?.state === 'receiving' ? receipt : undefined;
  }

  /** Every piece arriving now. */
  receivingNumbers(): number[] {
    return [...this.#receiving.values()].filter((r) => r.state === 'receiving').map((r) => r.number);
  }

  /** The piece is recorded: its open attempt is done. */
  recorded(number: number): void {
    this.#receiving.get(number)?.recorded();
    this.#receiving.delete(number);
  }

  /** Ends an attempt that failed, unless a newer attempt replaced it. */
  failed(receipt: PieceReceipt): void {
    receipt.fail();
    if (this.#receiving.get(receipt.number) === receipt) this.#receiving.delete(receipt.number);
  }

  /** Calls `listener` at every new attempt until the returned function is called. */
  onStart(listener: (receipt: PieceReceipt) => void): () => void {
    this.#onStart.add(listener);
    return () => this.#onStart.delete(listener);
  }

  /** The task closes: every open attempt fails. */
  failAll(): void {
    for (const receipt of this.#receiving.values()) receipt.fail();
    this.#receiving.clear();
  }
}
