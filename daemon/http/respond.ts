/** The one HTTP error handler: statuses come from api's code tables, bodies are one JSON line. */
import type { ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { DfError, ERROR_STATUS } from '../../api/index.ts';

export function httpStatusOf(error: unknown): number {
  if (error instanceof DfError) return ERROR_STATUS[error.code].http;
  return ERROR_STATUS.DF_ERR_INTERNAL.http;
}

export function sendError(res: ServerResponse, error: unknown): void {
  if (res.headersSent) {
    // Mid-body there is no status left to send: cutting the connection makes the length come up short.
    res.destroy();
    return;
  }
  const code = (error as { code?: unknown })?.code;
  const body = `${JSON.stringify({ code: typeof code === 'string' ? code : 'DF_ERR_INTERNAL', message: (error as Error)?.message ?? String(error) })}\n`;
  res.writeHead(httpStatusOf(error), { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

export function sendText(res: ServerResponse, status: number, body: string, contentType = 'text/plain; charset=utf-8'): void {
  res.writeHead(status, { 'content-type': contentType, 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

/**
 * The response's socket. A keep-alive client may send its next request as soon as it has the last
 * byte of the previous answer, before that answer's end() ran: Node then queues the new response
 * without a socket until the previous one finishes, and hands it over with a 'socket' event.
 */
export async function socketOf(res: ServerResponse, signal: AbortSignal): Promise<Socket> {
  if (res.socket) return res.socket as Socket;
  return new Promise<Socket>((resolve, reject) => {
    const onSocket = (socket: Socket) => {
      signal.removeEventListener('abort', onAbort);
      resolve(socket);
    };
    const onAbort = () => {
      res.off('socket', onSocket);
      reject(signal.reason);
    };
    res.once('socket', onSocket);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
