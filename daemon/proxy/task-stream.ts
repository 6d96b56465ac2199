/**
 * Answers an HTTP request from a P2P task while its pieces arrive: headers as soon as the length
 * is known, then the bytes in order, each piece as soon as it is in the store, so the client's
 * first bytes come long before the whole blob is local. The download itself goes on detached:
 * a client that gives up leaves a task the next pull (or another peer) finds further along.
 *
 * Failure rules: if the download fails before any header went out, the caller gets the error and
 * may fetch directly; once the answer has started, the rest comes straight from the origin
 * (registry clients such as skopeo and podman do not retry a broken blob). A whole-body answer with
 * a known sha256 is hashed on the way and its last chunk is held back until the hash matches, so a
 * client never receives a complete body with the wrong content.
 */
import { createHash, type Hash } from 'node:crypto';
import { once } from 'node:events';
import { open, type FileHandle } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import { TaskDigestMismatchError, type PieceRecord } from '../../engine/index.ts';
import type { Logger } from '../log.ts';
import type { DownloadSpec } from '../rpc/validate.ts';
import type { StartedInfo, TaskManager } from '../tasks/task-manager.ts';
import { resolveRange, type RangeRequest } from './byte-range.ts';

const READ_CHUNK = 1024 * 1024;

export interface TaskStreamRequest {
  readonly spec: DownloadSpec;
  readonly res: ServerResponse;
  readonly range: RangeRequest;
  /** Sent with the answer (content type, digest, task id...). */
  readonly headers: Readonly<Record<string, string>>;
  /** Hex sha256 of the whole content, checked when the whole body is sent. */
  readonly expectedSha256?: string | undefined;
  readonly head?: boolean | undefined;
  /** Bytes [start, end] of the content straight from the origin, when P2P fails mid-answer. */
  readonly fromOrigin?: ((start: number, end: number, signal: AbortSignal) => Promise<AsyncIterable<Uint8Array>>) | undefined;
  /** The client went away. */
  readonly signal: AbortSignal;
}

export interface TaskStreamResult {
  readonly taskId: string;
  readonly bytesSent: number;
  /** Of those, how many came straight from the origin after P2P failed mid-answer. */
  readonly fromOriginBytes: number;
}

export interface TaskStreamDeps {
  readonly manager: TaskManager;
  /** The task's layout when it is complete in the store: then it is answered without a download. */
  readonly completed: (taskId: string) => Promise<{ contentLength: number; pieceLength: number } | undefined>;
  readonly dataPathOf: (taskId: string) => string;
  /** Drops a task whose content proved wrong, so it is not served again. */
  readonly forget: (taskId: string) => Promise<unknown>;
  readonly log: Logger;
}

export async function streamTask(deps: TaskStreamDeps, request: TaskStreamRequest): Promise<TaskStreamResult> {
  const { res, signal } = request;
  const pieces = new PieceArrivals();
  const taskId = deps.manager.taskIdOf(request.spec);
  const stored = deps.manager.isRunning(taskId) ? undefined : await deps.completed(taskId);
  if (stored) {
    pieces.complete(stored.contentLength, stored.pieceLength);
  } else {
    const follower = { onStarted: (info: StartedInfo) => pieces.start(info), onPiece: (record: PieceRecord) => pieces.add(record) };
    deps.manager.follow(request.spec, follower, { signal, detached: true }).then(
      () => pieces.finish(),
      (error: unknown) => pieces.fail(error),
    );
  }
  const layout = await pieces.started();
  const range = resolveRange(request.range, layout.contentLength);
  if (range === 'unsatisfiable') {
    res.writeHead(416, { ...request.headers, 'content-range': `bytes */${layout.contentLength}`, 'content-length': 0 });
    res.end();
    return { taskId, bytesSent: 0, fromOriginBytes: 0 };
  }
  const start = range?.start ?? 0;
  const end = range?.end ?? layout.contentLength - 1;
  const headers: Record<string, string | number> = { ...request.headers, 'accept-ranges': 'bytes', 'content-length': end - start + 1 };
  if (stored) headers['x-dragonfly-task-download-finished'] = 'true';
  if (range) headers['content-range'] = `bytes ${start}-${end}/${layout.contentLength}`;
  res.writeHead(range ? 206 : 200, headers);
  if (request.head) {
    res.end();
    return { taskId, bytesSent: 0, fromOriginBytes: 0 };
  }

  const sink = new ResponseSink(res, range ? undefined : request.expectedSha256, signal);
  let offset = start;
  let fromOriginBytes = 0;
  let file: FileHandle | undefined;
  try {
    file = await open(deps.dataPathOf(taskId), 'r');
    for (let number = Math.floor(start / layout.pieceLength); offset <= end; number++) {
      await pieces.waitFor(number);
      const pieceEnd = Math.min(end, (number + 1) * layout.pieceLength - 1);
      offset = await copyRange(file, offset, pieceEnd, sink);
    }
  } catch (error) {
    if (signal.aborted || !request.fromOrigin || error instanceof SinkError) throw error;
    deps.log.warn('P2P failed mid-answer; the rest comes from the origin', { taskId, offset, end, error });
    for await (const chunk of await request.fromOrigin(offset, end, signal)) {
      const bytes = Math.min(chunk.byteLength, end + 1 - offset);
      await sink.write(Buffer.from(chunk.buffer, chunk.byteOffset, bytes));
      offset += bytes;
      fromOriginBytes += bytes;
      if (offset > end) break;
    }
    if (offset <= end) throw new Error(`the origin ended the body at byte ${offset} of ${end + 1}`, { cause: error });
  } finally {
    await file?.close();
  }
  try {
    await sink.end();
  } catch (error) {
    if (error instanceof TaskDigestMismatchError) {
      deps.log.error('content does not match its digest: answer cut, task dropped', { taskId, error });
      await deps.forget(taskId).catch(() => {});
    }
    throw error;
  }
  // The answer is complete; the download finishes (and is recorded as complete) on its own.
  return { taskId, bytesSent: end - start + 1, fromOriginBytes };
}

async function copyRange(file: FileHandle, from: number, to: number, sink: ResponseSink): Promise<number> {
  let position = from;
  while (position <= to) {
    const length = Math.min(READ_CHUNK, to + 1 - position);
    const buffer = Buffer.allocUnsafe(length);
    const { bytesRead } = await file.read(buffer, 0, length, position);
    if (bytesRead === 0) throw new Error(`the task file ends at byte ${position}, before a recorded piece`);
    await sink.write(bytesRead === length ? buffer : buffer.subarray(0, bytesRead));
    position += bytesRead;
  }
  return position;
}

/** Pieces of one task as they are recorded, for a reader that needs them in order. */
class PieceArrivals {
  #layout: { contentLength: number; pieceLength: number } | undefined;
  readonly #have = new Set<number>();
  #all = false;
  #failure: { error: unknown } | undefined;
  #finished = false;
  #wake: (() => void) | undefined;

  /** Every piece is already in the store. */
  complete(contentLength: number, pieceLength: number): void {
    this.#layout = { contentLength, pieceLength };
    this.#all = true;
    this.#finished = true;
  }

  start(info: StartedInfo): void {
    this.#layout = info;
    for (const piece of info.pieces) this.#have.add(piece.number);
    this.#notify();
  }

  add(record: PieceRecord): void {
    this.#have.add(record.number);
    this.#notify();
  }

  fail(error: unknown): void {
    this.#failure = { error };
    this.#notify();
  }

  finish(): void {
    this.#finished = true;
    this.#notify();
  }

  async started(): Promise<{ contentLength: number; pieceLength: number }> {
    while (!this.#layout) {
      if (this.#failure) throw this.#failure.error;
      if (this.#finished) throw new Error('the download ended before it started');
      await this.#next();
    }
    return this.#layout;
  }

  async waitFor(number: number): Promise<void> {
    while (!this.#all && !this.#have.has(number)) {
      if (this.#failure) throw this.#failure.error;
      if (this.#finished) throw new Error(`the download finished without piece ${number}`);
      await this.#next();
    }
  }

  #next(): Promise<void> {
    return new Promise((resolve) => {
      const previous = this.#wake;
      this.#wake = () => {
        previous?.();
        resolve();
      };
    });
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }
}

/** The response could not take more bytes (the client left): no origin can help. */
class SinkError extends Error {}

/** Writes to the response with backpressure; with a digest, holds the last chunk until it matches. */
class ResponseSink {
  readonly #res: ServerResponse;
  readonly #hash: Hash | undefined;
  readonly #expected: string | undefined;
  readonly #signal: AbortSignal;
  #held: Buffer | undefined;

  constructor(res: ServerResponse, expectedSha256: string | undefined, signal: AbortSignal) {
    this.#res = res;
    this.#expected = expectedSha256;
    this.#hash = expectedSha256 ? createHash('sha256') : undefined;
    this.#signal = signal;
  }

  async write(chunk: Buffer): Promise<void> {
    if (!this.#hash) return this.#send(chunk);
    this.#hash.update(chunk);
    const previous = this.#held;
    this.#held = chunk;
    if (previous) await this.#send(previous);
  }

  async end(): Promise<void> {
    if (this.#hash) {
      const actual = this.#hash.digest('hex');
      if (actual !== this.#expected) throw new TaskDigestMismatchError(`sha256:${this.#expected}`, `sha256:${actual}`);
      if (this.#held) await this.#send(this.#held);
    }
    this.#res.end();
  }

  async #send(chunk: Buffer): Promise<void> {
    if (this.#res.destroyed) throw new SinkError('the client closed the connection');
    if (this.#res.write(chunk)) return;
    try {
      await once(this.#res, 'drain', { signal: this.#signal });
    } catch (error) {
      throw new SinkError('the client closed the connection', { cause: error });
    }
  }
}
