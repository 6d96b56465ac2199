/** The one HTTP error handler: statuses come from api's code tables, bodies are one JSON line. */
import type { ServerResponse } from 'node:http';
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
