/**
 * Answers an HTTP request from a P2P task while its pieces arrive: headers as soon as the length
 * is known, then the bytes in order, each piece sent from the task file (sendfile on a plain TCP
 * socket) as soon as it is in the store, so the client's first bytes come long before the whole
 * blob is local. The download itself goes on detached: a client that gives up leaves a task the
 * next pull (or another peer) finds further along.
 *
 * Verification: when the request carries the content's digest (a registry blob), the task layer
 * checks it while the pieces land (DigestVerifier); the answer's last byte is held back until that
 * check passed, so a client never receives a complete body with the wrong content. A task already
 * complete in the store was checked when it was downloaded.
 *
 * Failure rules: if the download fails before any header went out, the caller gets the error and
 * may fetch directly; once the answer has started, the rest comes straight from the origin
 * (registry clients such as skopeo and podman do not retry a broken blob), hashed by the same
 * verifier together with what was sent already when there is a digest to check.
 */
import { once } from 'node:events';
import type { ServerResponse } from 'node:http';
import { DfError } from '../../api/index.ts';
import { TaskDigestMismatchError, type DigestVerifier, type PieceRecord, type PieceSender } from '../../engine/index.ts';
import { ClientGoneError } from '../errors.ts';
import { socketOf } from '../http/respond.ts';
import type { Logger } from '../log.ts';
import type { TaskRequest } from '../tasks/request.ts';
import type { StartedInfo, TaskManager } from '../tasks/task-manager.ts';
import { resolveRange, type RangeRequest } from './byte-range.ts';
import { UpstreamError } from './errors.ts';

export interface TaskStreamRequest {
  readonly spec: TaskRequest;
  readonly res: ServerResponse;
  readonly range: RangeRequest;
  /** Sent with the answer (content type, digest, task id...). */
  readonly headers: Readonly<Record<string, string>>;
  readonly head?: boolean | undefined;
  /** Bytes [start, end] of the content straight from the origin, when P2P fails mid-answer. */
  readonly fromOrigin?: ((start: number, end: number, signal: AbortSignal) => Promise<AsyncIterable<Uint8Array>>) | undefined;
  /** The client went away. */
  readonly signal: AbortSignal;
}

export interface TaskStreamDeps {
  readonly manager: TaskManager;
  /** The task's layout when it is complete in the store: then it is answered without a download. */
  readonly completed: (taskId: string) => Promise<{ contentLength: number; pieceLength: number } | undefined>;
  readonly dataPathOf: (taskId: string) => string;
  /** A digest check over the task file (and bytes from elsewhere), for the mid-answer fallback. */
  readonly verifierFor: (taskId: string, digest: string) => DigestVerifier;
  readonly sender: PieceSender;
  readonly log: Logger;
}

/** The download failed (not the client, not the send): what the origin may still make up for. */
class DownloadFailed extends Error {}

export async function streamTask(deps: TaskStreamDeps, request: TaskStreamRequest): Promise<void> {
  const { res, signal, spec } = request;
  const pieces = new PieceArrivals();
  const taskId = deps.manager.taskIdOf(spec);
  const stored = deps.manager.isRunning(taskId) ? undefined : await deps.completed(taskId);
  let downloaded: Promise<unknown> = Promise.resolve();
  if (stored) {
    pieces.complete(stored.contentLength, stored.pieceLength);
  } else {
    const follower = { onStarted: (info: StartedInfo) => pieces.start(info), onPiece: (record: PieceRecord) => pieces.add(record) };
    downloaded = deps.manager.follow(spec, follower, { signal, detached: true });
    downloaded.then(
      () => pieces.finish(),
      (error: unknown) => pieces.fail(error),
    );
  }
  const layout = await pieces.started();
  const range = resolveRange(request.range, layout.contentLength);
  if (range === 'unsatisfiable') {
    res.writeHead(416, { ...request.headers, 'content-range': `bytes */${layout.contentLength}`, 'content-length': 0 });
    res.end();
    return;
  }
  const start = range?.start ?? 0;
  const end = range?.end ?? layout.contentLength - 1;
  const headers: Record<string, string | number> = { ...request.headers, 'accept-ranges': 'bytes', 'content-length': end - start + 1 };
  if (stored) headers['x-dragonfly-task-download-finished'] = 'true';
  if (range) headers['content-range'] = `bytes ${start}-${end}/${layout.contentLength}`;
  res.writeHead(range ? 206 : 200, headers);
  // The status and length are known now: the client need not wait for the first piece to see them.
  res.flushHeaders();
  if (request.head) {
    res.end();
    return;
  }

  const verified = spec.digest !== undefined && !range && !stored;
  // The last byte waits for the task layer's digest check.
  const last = verified ? end - 1 : end;
  const dataPath = deps.dataPathOf(taskId);
  let offset = start;
  try {
    const socket = await socketOf(res, signal);
    for (let number = Math.floor(start / layout.pieceLength); offset <= last; number++) {
      await pieces.waitFor(number).catch((error: unknown) => Promise.reject(new DownloadFailed('download failed', { cause: error })));
      const pieceEnd = Math.min(last, (number + 1) * layout.pieceLength - 1);
      if (pieceEnd >= offset) offset += await deps.sender.send(socket, dataPath, offset, pieceEnd - offset + 1, signal);
    }
    if (verified) {
      await downloaded.catch((error: unknown) => Promise.reject(new DownloadFailed('download failed', { cause: error })));
      offset += await deps.sender.send(socket, dataPath, offset, end - offset + 1, signal);
    }
  } catch (error) {
    const cause = error instanceof DownloadFailed ? error.cause : undefined;
    if (cause instanceof TaskDigestMismatchError) deps.log.error('content does not match its digest: answer cut', { taskId, error: cause });
    if (!(error instanceof DownloadFailed) || cause instanceof TaskDigestMismatchError || signal.aborted || !request.fromOrigin) throw cause ?? error;
    deps.log.warn('P2P failed mid-answer; the rest comes from the origin', { taskId, offset, end, error: cause });
    const verifier = verified ? deps.verifierFor(taskId, spec.digest!) : undefined;
    await finishFromOrigin(request.fromOrigin, { res, signal, start, offset, end, layout, verifier }).catch(
      (fallbackError: unknown) => Promise.reject(new UpstreamError(`P2P failed mid-answer and so did the origin: ${(fallbackError as Error).message}`, { cause: fallbackError })),
    );
    return; // finishFromOrigin ended the answer.
  }
  res.end();
}

/**
 * Bytes [offset, end] from the origin, through the response. With a verifier, the bytes already
 * sent are hashed from the task file first, the origin's bytes as they pass, and the last chunk
 * waits for the match.
 */
async function finishFromOrigin(
  fromOrigin: NonNullable<TaskStreamRequest['fromOrigin']>,
  at: { res: ServerResponse; signal: AbortSignal; start: number; offset: number; end: number; layout: { contentLength: number; pieceLength: number }; verifier: DigestVerifier | undefined },
): Promise<void> {
  const { verifier } = at;
  if (verifier) {
    verifier.start(at.layout);
    verifier.fileRange(at.offset - at.start);
  }
  const sink = new ResponseSink(at.res, verifier, at.signal);
  let offset = at.offset;
  try {
    for await (const chunk of await fromOrigin(offset, at.end, at.signal)) {
      const bytes = Math.min(chunk.byteLength, at.end + 1 - offset);
      await sink.write(Buffer.from(chunk.buffer, chunk.byteOffset, bytes));
      offset += bytes;
      if (offset > at.end) break;
    }
    if (offset <= at.end) throw new UpstreamError(`the origin ended the body at byte ${offset} of ${at.end + 1}`);
    await sink.end();
  } finally {
    verifier?.cancel();
  }
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
      if (this.#finished) throw new DfError('DF_ERR_UNAVAILABLE', 'the download ended before it started');
      await this.#next();
    }
    return this.#layout;
  }

  async waitFor(number: number): Promise<void> {
    while (!this.#all && !this.#have.has(number)) {
      if (this.#failure) throw this.#failure.error;
      if (this.#finished) throw new DfError('DF_ERR_UNAVAILABLE', `the download finished without piece ${number}`);
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

/** Writes to the response with backpressure; with a verifier, holds the last chunk until it matches. */
class ResponseSink {
  readonly #res: ServerResponse;
  readonly #verifier: DigestVerifier | undefined;
  readonly #signal: AbortSignal;
  #held: Buffer | undefined;

  constructor(res: ServerResponse, verifier: DigestVerifier | undefined, signal: AbortSignal) {
    this.#res = res;
    this.#verifier = verifier;
    this.#signal = signal;
  }

  async write(chunk: Buffer): Promise<void> {
    if (!this.#verifier) return this.#send(chunk);
    // The worker gets its own copy: the chunk is still to be sent from here.
    this.#verifier.bytes(new Uint8Array(chunk));
    const previous = this.#held;
    this.#held = chunk;
    if (previous) await this.#send(previous);
  }

  async end(): Promise<void> {
    if (this.#verifier) {
      await this.#verifier.finish();
      if (this.#held) await this.#send(this.#held);
    }
    this.#res.end();
  }

  async #send(chunk: Buffer): Promise<void> {
    if (this.#res.destroyed) throw new ClientGoneError('the client closed the connection');
    if (!this.#res.write(chunk)) await once(this.#res, 'drain', { signal: this.#signal });
  }
}
