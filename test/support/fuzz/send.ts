/**
 * Sending fuzz inputs as raw bytes: HTTP/1.1 over a plain TCP socket (node:net, so a broken request
 * line reaches the server exactly as written) and gRPC through a generic grpc-js client whose
 * serializer is the identity (the bytes are sent as they are, past every typed encoder). Every
 * send is bounded by a timeout and closes its socket or call.
 */
import * as grpc from '@grpc/grpc-js';
import { connect } from 'node:net';

export interface HttpAnswer {
  /** `answer`: a status line came back; `closed`: the server closed without one; `timeout`: nothing in time; `refused`: nobody listens. */
  readonly kind: 'answer' | 'closed' | 'timeout' | 'refused';
  readonly status?: number | undefined;
  /** Lower-cased response headers (when answered). */
  readonly headers: Readonly<Record<string, string>>;
  readonly ms: number;
}

/** Writes `bytes` to host:port and reads up to the end of the response head. */
export function sendRawHttp(port: number, bytes: Buffer, options: { timeoutMs: number; halfClose: boolean }): Promise<HttpAnswer> {
  return new Promise((resolve) => {
    const started = performance.now();
    const socket = connect({ host: '127.0.0.1', port });
    let received = Buffer.alloc(0);
    let done = false;
    const finish = (answer: Omit<HttpAnswer, 'ms'>) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({ ...answer, ms: performance.now() - started });
    };
    const timer = setTimeout(() => finish({ kind: 'timeout', headers: {} }), options.timeoutMs);
    socket.on('connect', () => {
      socket.write(bytes);
      if (options.halfClose) socket.end();
    });
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      const end = received.indexOf('\r\n\r\n');
      if (end < 0 && received.length < 64 * 1024) return;
      const head = received.subarray(0, end < 0 ? received.length : end).toString('latin1').split('\r\n');
      const status = /^HTTP\/1\.[01] (\d{3})/.exec(head[0] ?? '');
      const headers: Record<string, string> = {};
      for (const line of head.slice(1)) {
        const colon = line.indexOf(':');
        if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
      }
      finish({ kind: status ? 'answer' : 'closed', status: status ? Number(status[1]) : undefined, headers });
    });
    socket.on('error', (error: NodeJS.ErrnoException) => finish({ kind: error.code === 'ECONNREFUSED' ? 'refused' : 'closed', headers: {} }));
    socket.on('close', () => finish({ kind: received.length > 0 ? 'closed' : 'closed', headers: {} }));
  });
}

export type MethodKind = 'unary' | 'server-stream' | 'client-stream' | 'bidi';

export interface GrpcAnswer {
  /** The status the call ended with; OK also when a stream sent a message and was cancelled by us. */
  readonly code: grpc.status;
  readonly details: string;
  /** The stable error code our servers put in the `df-error-bin` trailer, when there is one. */
  readonly errorCode?: string | undefined;
  readonly ms: number;
}

function errorCodeOf(metadata: grpc.Metadata | undefined): string | undefined {
  const value = metadata?.get('df-error-bin')[0];
  if (!Buffer.isBuffer(value)) return undefined;
  try {
    const code = (JSON.parse(value.toString('utf8')) as { code?: unknown }).code;
    return typeof code === 'string' ? code : undefined;
  } catch {
    return undefined;
  }
}

const identity = (value: Buffer) => value;

/**
 * One call of `path` with `messages` as the raw request bytes. A server stream that answers with a
 * message counts as answered (OK) and is cancelled: some streams (SyncHost) run until the caller
 * hangs up.
 */
export function sendRawGrpc(client: grpc.Client, path: string, kind: MethodKind, messages: readonly Buffer[], options: { timeoutMs: number }): Promise<GrpcAnswer> {
  return new Promise((resolve) => {
    const started = performance.now();
    const deadline = Date.now() + options.timeoutMs;
    let done = false;
    const finish = (code: grpc.status, details: string, metadata?: grpc.Metadata) => {
      if (done) return;
      done = true;
      resolve({ code, details, errorCode: errorCodeOf(metadata), ms: performance.now() - started });
    };
    const callback = (error: grpc.ServiceError | null) => finish(error ? error.code : grpc.status.OK, error?.details ?? '', error?.metadata);
    if (kind === 'unary') {
      client.makeUnaryRequest(path, identity, identity, messages[0] ?? Buffer.alloc(0), { deadline }, callback);
      return;
    }
    if (kind === 'client-stream') {
      const call = client.makeClientStreamRequest(path, identity, identity, { deadline }, callback);
      for (const message of messages) call.write(message);
      call.end();
      return;
    }
    const call =
      kind === 'server-stream'
        ? client.makeServerStreamRequest(path, identity, identity, messages[0] ?? Buffer.alloc(0), { deadline })
        : client.makeBidiStreamRequest(path, identity, identity, { deadline });
    call.on('data', () => {
      finish(grpc.status.OK, 'answered with a message');
      call.cancel();
    });
    call.on('error', () => {});
    call.on('status', (status: grpc.StatusObject) => finish(status.code, status.details, status.metadata));
    if (kind === 'bidi') {
      const duplex = call as grpc.ClientDuplexStream<Buffer, Buffer>;
      for (const message of messages) duplex.write(message);
      duplex.end();
    }
  });
}

export { grpc };
