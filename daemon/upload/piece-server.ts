/**
 * The piece server (storage.server.tcpPort): `GET /pieces/<taskId>/<number>` answers the raw bytes
 * of one recorded piece, exact Content-Length, its crc32 in `X-Dragonfly-Piece-Digest`, streamed
 * from the task file with sendfile where the addon has it. HTTP/1.1 keep-alive, so a child reuses
 * one connection for many pieces. Anything that is not a recorded piece of a known task is a 4xx
 * decided before a path is built, so no request can read outside the store. A child that sends
 * `X-Dragonfly-Relay: 1` may also get a piece still arriving here (relay.ts); without it, only
 * recorded pieces.
 *
 * With `tls` (storage.server.{caCert,cert,key}) it is HTTPS with mutual TLS: a child whose
 * certificate does not chain to the CA fails the handshake and never reaches a handler. Pieces then
 * go through TLS, which the kernel's sendfile cannot encrypt: the addon's sendFile sees a socket
 * without a plain fd and writes through JS (addon/native.ts).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTlsServer, type Server as TlsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { InvalidArgumentError, isTaskId, DfError, type TlsMaterial } from '../../api/index.ts';
import type { PieceSender, TaskRegistry, TokenBucket } from '../../engine/index.ts';
import { ClientGoneError, NotFoundError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { DaemonMetrics } from '../metrics.ts';
import { sendError, socketOf } from '../http/respond.ts';
import { relayPiece, wantsRelay } from './relay.ts';

export const PIECE_DIGEST_HEADER = 'x-dragonfly-piece-digest';
export const PIECE_OFFSET_HEADER = 'x-dragonfly-piece-offset';

export interface PieceServerOptions {
  readonly tasks: TaskRegistry;
  readonly sender: PieceSender;
  readonly limiter: TokenBucket;
  /** Pieces served at once; the next one is answered 429. */
  readonly concurrentUploadLimit: number;
  readonly metrics: DaemonMetrics;
  readonly log: Logger;
  /** upload.disableShared: a leech serves nothing. */
  readonly disableShared?: boolean | undefined;
  /** storage.server's TLS material: HTTPS, a client certificate chaining to its CA required. */
  readonly tls?: TlsMaterial | undefined;
}

/** `/pieces/<64 hex>/<decimal>` to its parts; anything else is refused before the store is asked. */
export function parsePiecePath(url: string): { taskId: string; number: number } {
  const path = url.split('?', 1)[0]!;
  const parts = path.split('/');
  if (parts.length !== 4 || parts[0] !== '' || parts[1] !== 'pieces') {
    throw new NotFoundError(`no such resource ${JSON.stringify(path.slice(0, 200))}; pieces are at /pieces/<taskId>/<number>`);
  }
  const [, , taskId, number] = parts as [string, string, string, string];
  if (!isTaskId(taskId)) throw new InvalidArgumentError('task id must be 64 lower-case hex characters');
  if (!/^\d{1,10}$/.test(number)) throw new InvalidArgumentError('piece number must be a non-negative decimal integer');
  return { taskId, number: Number(number) };
}

export class PieceServer {
  readonly #options: PieceServerOptions;
  /** Starts at upload.concurrentUploadLimit; the cluster's `load_limit` replaces it while running. */
  #uploadLimit: number;
  readonly #server: Server | TlsServer;
  #active = 0;
  #uploadedBytes = 0;

  constructor(options: PieceServerOptions) {
    this.#options = options;
    this.#uploadLimit = options.concurrentUploadLimit;
    const handler = (req: IncomingMessage, res: ServerResponse): void => {
      this.#handle(req, res).catch((error: unknown) => {
        options.log.warn('piece request failed', { url: req.url?.slice(0, 200), error });
        sendError(res, error);
      });
    };
    const { tls } = options;
    if (tls) {
      const server = createTlsServer({ keepAliveTimeout: 30_000, ca: tls.ca, cert: tls.cert, key: tls.key, requestCert: true, rejectUnauthorized: true }, handler);
      server.on('tlsClientError', (error, socket) => {
        options.log.warn('piece server refused a TLS client', { remote: `${socket.remoteAddress}:${socket.remotePort}`, error: error.message });
      });
      this.#server = server;
    } else {
      this.#server = createServer({ keepAliveTimeout: 30_000 }, handler);
    }
  }


  /** Pieces being served now. */
  /** Pieces served at once from now on; pieces being served are not cut. */
  setConcurrentUploadLimit(limit: number): void {
    if (!Number.isSafeInteger(limit) || limit < 1) throw new RangeError(`concurrent upload limit must be a positive integer, got ${limit}`);
    this.#uploadLimit = limit;
  }

  get concurrentUploadLimit(): number {
    return this.#uploadLimit;
  }

  get active(): number {
    return this.#active;
  }

  /** Bytes served since start (the announcer derives the upload rate from it). */
  get uploadedBytes(): number {
    return this.#uploadedBytes;
  }

  async listen(host: string, port: number): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(port, host, () => {
        this.#server.off('error', reject);
        resolve();
      });
    });
    return (this.#server.address() as AddressInfo).port;
  }

  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    this.#server.closeAllConnections();
    await closed;
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method !== 'GET') {
      res.setHeader('allow', 'GET');
      throw new InvalidArgumentError(`method ${req.method} is not served here; pieces are fetched with GET`);
    }
    const { taskId, number } = parsePiecePath(req.url ?? '/');
    const { tasks, metrics } = this.#options;
    if (this.#options.disableShared) throw new NotFoundError('this peer does not share its tasks (upload.disableShared)');
    const task = await tasks.get(taskId);
    if (!task) throw new NotFoundError(`task ${taskId} is not here`);
    if (number >= task.pieceCount) throw new InvalidArgumentError(`piece ${number} is out of range: the task has ${task.pieceCount} pieces`);
    const piece = task.piece(number);
    // Only a child that asked for relay may get a piece still arriving; it checks the digest this peer announces once verified.
    const receipt = piece || !wantsRelay(req.headers) ? undefined : task.receiving(number);
    if (!piece && !receipt) throw new NotFoundError(`piece ${number} of task ${taskId} is not finished here`);
    if (this.#active >= this.#uploadLimit) {
      throw new DfError('DF_ERR_RESOURCE_EXHAUSTED', `already serving ${this.#active} pieces (upload.concurrentUploadLimit)`);
    }
    this.#active++;
    metrics.concurrentUploads.labels().inc();
    const abort = new AbortController();
    const onClose = () => abort.abort(new ClientGoneError('the client went away'));
    res.once('close', onClose);
    try {
      let length: number;
      if (receipt) {
        length = await relayPiece({
          res,
          task,
          receipt,
          sender: this.#options.sender,
          limiter: this.#options.limiter,
          offsetHeader: PIECE_OFFSET_HEADER,
          signal: abort.signal,
        });
      } else {
        length = piece!.length;
        await this.#options.limiter.take(piece!.length, abort.signal);
        res.writeHead(200, {
          'content-type': 'application/octet-stream',
          'content-length': piece!.length,
          [PIECE_DIGEST_HEADER]: piece!.digest,
          [PIECE_OFFSET_HEADER]: piece!.offset,
        });
        // Headers must reach the socket before the file bytes; the sender flushes what is queued.
        res.flushHeaders();
        const socket = await socketOf(res, abort.signal);
        await this.#options.sender.send(socket, task.dataPath, piece!.offset, piece!.length, abort.signal);
        res.end();
      }
      this.#uploadedBytes += length;
      tasks.touch(taskId);
      metrics.uploadTraffic.labels().inc(length);
      metrics.uploadPieces.labels().inc();
    } catch (error) {
      metrics.uploadFailures.labels().inc();
      throw error;
    } finally {
      res.off('close', onClose);
      this.#active--;
      metrics.concurrentUploads.labels().dec();
    }
  }
}

