/**
 * One task in the content store: a sparse data file written at piece offsets, and a journal of
 * finished pieces appended after each piece's bytes are written, so a restarted process resumes
 * with what it had. A journal line torn by a crash is ignored (that piece is fetched again).
 */
import type { FileHandle } from 'node:fs/promises';
import { pieceCountOf, pieceRangeOf, type PieceRange } from '../../api/index.ts';
import { StorageError } from '../errors.ts';
import { PieceProgress } from './piece-progress.ts';

/** Finished bytes between background flushes. */
const WRITEBACK_BYTES = 64 * 1024 * 1024;

export interface PieceRecord {
  readonly number: number;
  readonly offset: number;
  readonly length: number;
  /** `crc32:<decimal>` of the piece's bytes. */
  readonly digest: string;
  /** Milliseconds the piece took to arrive. */
  readonly costMs: number;
  /** Where it came from, e.g. `origin`, or a parent's id later. */
  readonly source: string;
}

export interface TaskMetadata {
  readonly version: 1;
  readonly taskId: string;
  readonly url: string;
  readonly contentLength: number;
  readonly pieceLength: number;
  readonly validator?: string | undefined;
  readonly createdAt: string;
  readonly completedAt?: string | undefined;
}

export interface TaskFiles {
  readonly dataPath: string;
  readonly metadataPath: string;
  readonly journalPath: string;
  readonly lockPath: string;
}

export class StoredTask {
  readonly id: string;
  readonly metadata: TaskMetadata;
  readonly files: TaskFiles;
  readonly pieceCount: number;
  /** Pieces being written now, with their written-bytes watermarks (for cut-through relay). */
  readonly progress = new PieceProgress();
  readonly #data: FileHandle;
  readonly #journal: FileHandle;
  readonly #pieces: Map<number, PieceRecord>;
  readonly #onClose: () => Promise<void>;
  #closed = false;
  #writeback = false;
  #unflushedBytes = 0;
  #flushing: Promise<void> | undefined;

  constructor(init: {
    metadata: TaskMetadata;
    files: TaskFiles;
    data: FileHandle;
    journal: FileHandle;
    pieces: Map<number, PieceRecord>;
    onClose: () => Promise<void>;
  }) {
    this.id = init.metadata.taskId;
    this.metadata = init.metadata;
    this.files = init.files;
    this.pieceCount = pieceCountOf(init.metadata.contentLength, init.metadata.pieceLength);
    this.#data = init.data;
    this.#journal = init.journal;
    this.#pieces = init.pieces;
    this.#onClose = init.onClose;
  }

  get contentLength(): number {
    return this.metadata.contentLength;
  }

  get pieceLength(): number {
    return this.metadata.pieceLength;
  }

  /** The open data file's descriptor, for hashing and sendfile. */
  get fd(): number {
    return this.#data.fd;
  }

  rangeOf(number: number): PieceRange {
    return pieceRangeOf(number, this.contentLength, this.pieceLength);
  }

  hasPiece(number: number): boolean {
    return this.#pieces.has(number);
  }

  piece(number: number): PieceRecord | undefined {
    return this.#pieces.get(number);
  }

  finishedPieces(): PieceRecord[] {
    return [...this.#pieces.values()].sort((a, b) => a.number - b.number);
  }

  missingPieces(): number[] {
    return Array.from({ length: this.pieceCount }, (_, i) => i).filter((i) => !this.#pieces.has(i));
  }

  get finishedBytes(): number {
    let total = 0;
    for (const piece of this.#pieces.values()) total += piece.length;
    return total;
  }

  /** Writes buffers back to back at `position`; loops on short writes. */
  async write(buffers: readonly Uint8Array[], position: number): Promise<void> {
    let pending = [...buffers];
    let at = position;
    while (pending.length > 0) {
      const { bytesWritten } = await this.#data.writev(pending, at);
      at += bytesWritten;
      pending = dropBytes(pending, bytesWritten);
    }
  }

  /** Records a piece whose bytes are written: from now on it survives a restart and may be served. */
  async finishPiece(record: PieceRecord): Promise<void> {
    const range = this.rangeOf(record.number);
    if (range.offset !== record.offset || range.length !== record.length) {
      throw new StorageError(`piece ${record.number} is ${range.offset}+${range.length}, not ${record.offset}+${record.length}`);
    }
    await this.#journal.write(`${JSON.stringify(record)}\n`);
    this.#pieces.set(record.number, record);
    this.progress.recorded(record.number);
    if (!this.#writeback) return;
    this.#unflushedBytes += record.length;
    if (this.#unflushedBytes >= WRITEBACK_BYTES) this.#startWriteback();
  }

  /** Flush in the background while downloading (for durable tasks, which sync() before completing). */
  enableWriteback(): void {
    this.#writeback = true;
  }

  /**
   * Starts flushing what is written so far, in the background: the disk works while the network
   * does, and the sync before completion finds little left to write. One flush at a time.
   */
  #startWriteback(): void {
    if (this.#flushing) return;
    this.#unflushedBytes = 0;
    this.#flushing = this.#data
      .datasync()
      .catch(() => {
        // A failed background flush is not fatal here: sync() before completion flushes again and reports.
      })
      .finally(() => {
        this.#flushing = undefined;
      });
  }

  /** Forgets a piece (its bytes failed a check). Appends a tombstone so a restart forgets it too. */
  async dropPiece(number: number): Promise<void> {
    await this.#journal.write(`${JSON.stringify({ number, dropped: true })}\n`);
    this.#pieces.delete(number);
  }

  get complete(): boolean {
    return this.#pieces.size === this.pieceCount;
  }

  /** Makes every written byte durable: a completed task never turns to zeros after a crash. */
  async sync(): Promise<void> {
    await this.#flushing;
    await this.#data.datasync();
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.progress.failAll();
    await this.#flushing;
    await Promise.allSettled([this.#data.close(), this.#journal.close()]);
    await this.#onClose();
  }
}

function dropBytes(buffers: Uint8Array[], count: number): Uint8Array[] {
  let left = count;
  const out: Uint8Array[] = [];
  for (const buffer of buffers) {
    if (left >= buffer.byteLength) {
      left -= buffer.byteLength;
      continue;
    }
    out.push(left > 0 ? buffer.subarray(left) : buffer);
    left = 0;
  }
  return out;
}

/** Journal lines to piece records; the last wins, tombstones remove, torn or foreign lines are skipped. */
export function parseJournal(text: string, metadata: TaskMetadata): Map<number, PieceRecord> {
  const pieces = new Map<number, PieceRecord>();
  const count = pieceCountOf(metadata.contentLength, metadata.pieceLength);
  for (const line of text.split('\n')) {
    if (!line) continue;
    let entry: Partial<PieceRecord> & { dropped?: boolean };
    try {
      entry = JSON.parse(line);
    } catch {
      continue;
    }
    const number = entry.number;
    if (!Number.isSafeInteger(number) || number! < 0 || number! >= count) continue;
    if (entry.dropped) {
      pieces.delete(number!);
      continue;
    }
    const range = pieceRangeOf(number!, metadata.contentLength, metadata.pieceLength);
    if (entry.offset !== range.offset || entry.length !== range.length || typeof entry.digest !== 'string') continue;
    pieces.set(number!, entry as PieceRecord);
  }
  return pieces;
}
