/**
 * Moves bytes from a source body into the task file: batched positional writes (memory per
 * piece stays at one batch), a running crc32 per piece, exact lengths.
 */
import { crc32Digest, type PieceRange } from '../../api/index.ts';
import { addon } from '../../addon/index.ts';
import { PieceDigestMismatchError, SourceProtocolError } from '../errors.ts';
import { isDirectBody, type DirectBody } from '../source/source.ts';
import type { PieceReceipt } from '../store/piece-progress.ts';
import type { PieceRecord, StoredTask } from '../store/task.ts';

export interface WriteContext {
  readonly task: StoredTask;
  readonly writeBatchBytes: number;
  readonly onBytes: (count: number) => void;
}

/**
 * The digest a piece must have: known before its bytes (announced by a parent), or asked for only
 * once its body ended (a relayed piece: the parent announces it after its own check, which may
 * still be on its way); undefined when none came.
 */
export type ExpectedDigest = string | (() => string | undefined | Promise<string | undefined>);

/** Batches chunks and writes them at consecutive positions; a receipt follows what is written. */
class BatchWriter {
  #batch: Uint8Array[] = [];
  #batchBytes = 0;
  #position: number;
  readonly #task: StoredTask;
  readonly #limit: number;
  readonly #receipt: PieceReceipt | undefined;

  constructor(task: StoredTask, position: number, limit: number, receipt?: PieceReceipt) {
    this.#task = task;
    this.#position = position;
    this.#limit = limit;
    this.#receipt = receipt;
  }

  async add(chunk: Uint8Array): Promise<void> {
    this.#batch.push(chunk);
    this.#batchBytes += chunk.byteLength;
    if (this.#batchBytes >= this.#limit) await this.flush();
  }

  async flush(): Promise<void> {
    if (this.#batchBytes === 0) return;
    const batch = this.#batch;
    const bytes = this.#batchBytes;
    this.#batch = [];
    this.#batchBytes = 0;
    await this.#task.write(batch, this.#position);
    this.#position += bytes;
    this.#receipt?.advance(bytes);
  }
}

/**
 * Writes one piece's body; resolves its record once every byte is on disk. With `expectedDigest`
 * (a parent's piece) a mismatch fails the piece, which is then not recorded and never served.
 * While it runs, the task's progress shows the piece as arriving, with the bytes written so far.
 */
export async function writePiece(
  context: WriteContext,
  range: PieceRange,
  body: AsyncIterable<Uint8Array> | DirectBody,
  source: string,
  expectedDigest?: ExpectedDigest,
): Promise<PieceRecord> {
  const { progress } = context.task;
  const receipt = progress.start(range);
  try {
    return await writeBody(context, range, body, source, expectedDigest, receipt);
  } catch (error) {
    progress.failed(receipt);
    throw error;
  }
}

async function writeBody(
  context: WriteContext,
  range: PieceRange,
  body: AsyncIterable<Uint8Array> | DirectBody,
  source: string,
  expectedDigest: ExpectedDigest | undefined,
  receipt: PieceReceipt,
): Promise<PieceRecord> {
  const started = performance.now();
  if (isDirectBody(body)) return writeDirect(context, range, body, source, expectedDigest, started, receipt);
  const writer = new BatchWriter(context.task, range.offset, context.writeBatchBytes, receipt);
  let crc = 0;
  let received = 0;
  try {
    for await (const chunk of body) {
      if (received + chunk.byteLength > range.length) {
        throw new SourceProtocolError(`piece ${range.number}: ${source} sent more than the ${range.length} bytes asked for`);
      }
      crc = addon.crc32(chunk, crc);
      received += chunk.byteLength;
      context.onBytes(chunk.byteLength);
      await writer.add(chunk);
    }
    await writer.flush();
  } catch (error) {
    context.onBytes(-received);
    throw error;
  }
  if (received !== range.length) {
    context.onBytes(-received);
    throw new SourceProtocolError(`piece ${range.number}: ${source} sent ${received} of ${range.length} bytes`);
  }
  return finish(context, range, crc, source, expectedDigest, started);
}

async function finish(
  context: WriteContext,
  range: PieceRange,
  crc: number,
  source: string,
  expectedDigest: ExpectedDigest | undefined,
  started: number,
): Promise<PieceRecord> {
  const digest = crc32Digest(crc);
  let expected: string | undefined;
  try {
    expected = typeof expectedDigest === 'function' ? await expectedDigest() : expectedDigest;
  } catch (error) {
    context.onBytes(-range.length);
    throw error;
  }
  if (typeof expectedDigest === 'function' && expected === undefined) {
    context.onBytes(-range.length);
    throw new SourceProtocolError(`piece ${range.number}: ${source} sent the body but not its digest`);
  }
  if (expected !== undefined && expected !== digest) {
    context.onBytes(-range.length);
    throw new PieceDigestMismatchError(range.number, expected, digest);
  }
  return {
    number: range.number,
    offset: range.offset,
    length: range.length,
    digest,
    costMs: Math.round(performance.now() - started),
    source,
  };
}

/**
 * The body writes itself into the task file (no JS buffers). The receipt's watermark follows the
 * bytes the receive reports on disk while it runs, so a child may relay the piece from here
 * before its last byte lands.
 */
async function writeDirect(
  context: WriteContext,
  range: PieceRange,
  body: DirectBody,
  source: string,
  expectedDigest: ExpectedDigest | undefined,
  started: number,
  receipt: PieceReceipt,
): Promise<PieceRecord> {
  let advanced = 0;
  const onWritten = (written: number): void => {
    if (written <= advanced) return;
    receipt.advance(written - advanced);
    advanced = written;
  };
  const { bytes, crc32 } = await body.receiveInto(context.task.fd, range.offset, range.length, onWritten);
  if (bytes !== range.length) {
    throw new SourceProtocolError(`piece ${range.number}: ${source} sent ${bytes} of ${range.length} bytes`);
  }
  onWritten(bytes);
  context.onBytes(bytes);
  return finish(context, range, crc32, source, expectedDigest, started);
}

/**
 * For origins that ignore Range: reads the whole body in order, finishing pieces as their last
 * byte passes. Pieces already stored are skipped over (their bytes are read but not written).
 */
export async function writeWholeBody(
  context: WriteContext,
  body: AsyncIterable<Uint8Array>,
  onPiece: (record: PieceRecord) => Promise<void>,
): Promise<void> {
  const { task } = context;
  let number = 0;
  let offsetInPiece = 0;
  let crc = 0;
  let started = performance.now();
  let received = 0;
  // Bytes of the current piece reported as progress but not yet finished: taken back on failure.
  let pending = 0;
  let writer = new BatchWriter(task, 0, context.writeBatchBytes);
  try {
    for await (const data of body) {
      let chunk = data;
      while (chunk.byteLength > 0) {
        if (number >= task.pieceCount) throw new SourceProtocolError(`origin sent more than the ${task.contentLength} bytes it announced`);
        const range = task.rangeOf(number);
        const take = Math.min(chunk.byteLength, range.length - offsetInPiece);
        const part = chunk.subarray(0, take);
        chunk = chunk.subarray(take);
        received += take;
        const keep = !task.hasPiece(number);
        if (keep) {
          context.onBytes(take);
          pending += take;
          crc = addon.crc32(part, crc);
          await writer.add(part);
        }
        offsetInPiece += take;
        if (offsetInPiece === range.length) {
          await writer.flush();
          if (keep) {
            const costMs = Math.round(performance.now() - started);
            await onPiece({ number, offset: range.offset, length: range.length, digest: crc32Digest(crc), costMs, source: 'origin' });
          }
          number++;
          pending = 0;
          offsetInPiece = 0;
          crc = 0;
          started = performance.now();
          writer = new BatchWriter(task, number < task.pieceCount ? task.rangeOf(number).offset : 0, context.writeBatchBytes);
        }
      }
    }
  } catch (error) {
    context.onBytes(-pending);
    throw error;
  }
  if (number !== task.pieceCount) {
    context.onBytes(-pending);
    throw new SourceProtocolError(`origin sent ${received} of the ${task.contentLength} bytes it announced`);
  }
}
