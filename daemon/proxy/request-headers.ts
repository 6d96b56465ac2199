/**
 * Request headers: Dragonfly's `X-Dragonfly-*` controls (task identity, priority, P2P on/off),
 * and which of the client's headers travel upstream (never hop-by-hop ones, never the proxy's own
 * controls). Pure: no I/O.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { MAX_PIECE_LENGTH, MIN_PIECE_LENGTH, parseSize } from '../../api/index.ts';
import { BadProxyRequestError } from './errors.ts';

export interface DragonflyControls {
  readonly tag?: string | undefined;
  readonly application?: string | undefined;
  /** The proto enum name, `LEVEL0`..`LEVEL6` (Dragonfly's default 6). */
  readonly priority: string;
  readonly filteredQueryParams?: readonly string[] | undefined;
  readonly pieceLength?: number | undefined;
  readonly contentForCalculatingTaskId?: string | undefined;
  /** `X-Dragonfly-Use-P2P`: true forces P2P, false forbids it, undefined lets the rules decide. */
  readonly useP2p?: boolean | undefined;
  readonly registry?: string | undefined;
}

const MAX_VALUE = 1024;

function one(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  const text = Array.isArray(value) ? value[0] : value;
  if (text === undefined || text === '') return undefined;
  if (text.length > MAX_VALUE) throw new BadProxyRequestError('UNSUPPORTED', `${name} is ${text.length} characters long; at most ${MAX_VALUE}`);
  return text.trim();
}

function bool(headers: IncomingHttpHeaders, name: string): boolean | undefined {
  const text = one(headers, name)?.toLowerCase();
  if (text === undefined) return undefined;
  if (text === 'true') return true;
  if (text === 'false') return false;
  throw new BadProxyRequestError('UNSUPPORTED', `${name} must be true or false, got ${JSON.stringify(text)}`);
}

export function dragonflyControls(headers: IncomingHttpHeaders): DragonflyControls {
  const priorityText = one(headers, 'x-dragonfly-priority');
  let priority = 'LEVEL6';
  if (priorityText !== undefined) {
    if (!/^[0-6]$/.test(priorityText)) throw new BadProxyRequestError('UNSUPPORTED', `x-dragonfly-priority must be 0 to 6, got ${JSON.stringify(priorityText)}`);
    priority = `LEVEL${priorityText}`;
  }
  const pieceText = one(headers, 'x-dragonfly-piece-length');
  let pieceLength: number | undefined;
  if (pieceText !== undefined) {
    try {
      pieceLength = parseSize(pieceText);
    } catch (error) {
      throw new BadProxyRequestError('UNSUPPORTED', `x-dragonfly-piece-length: ${(error as Error).message}`);
    }
    if (pieceLength < MIN_PIECE_LENGTH || pieceLength > MAX_PIECE_LENGTH) {
      throw new BadProxyRequestError('UNSUPPORTED', `x-dragonfly-piece-length must be 4MiB to 64MiB, got ${JSON.stringify(pieceText)}`);
    }
  }
  const filtered = one(headers, 'x-dragonfly-filtered-query-params');
  return {
    tag: one(headers, 'x-dragonfly-tag'),
    application: one(headers, 'x-dragonfly-application'),
    priority,
    filteredQueryParams: filtered?.split(',').map((param) => param.trim()).filter(Boolean),
    pieceLength,
    contentForCalculatingTaskId: one(headers, 'x-dragonfly-content-for-calculating-task-id'),
    useP2p: bool(headers, 'x-dragonfly-use-p2p'),
    registry: one(headers, 'x-dragonfly-registry'),
  };
}

// RFC 9110 hop-by-hop headers, plus what only concerns the client-to-proxy leg.
const NOT_FORWARDED = new Set(['connection', 'keep-alive', 'proxy-authorization', 'proxy-authenticate', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'host']);

/** The client's headers to send upstream, as a plain map (repeated headers joined). */
export function forwardedHeaders(headers: IncomingHttpHeaders, options: { drop?: readonly string[] } = {}): Record<string, string> {
  const dropped = new Set([...NOT_FORWARDED, ...(options.drop ?? [])]);
  // Headers named in Connection are hop-by-hop too.
  const connection = headers.connection;
  for (const name of (Array.isArray(connection) ? connection.join(',') : (connection ?? '')).split(',')) dropped.add(name.trim().toLowerCase());
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || dropped.has(name) || name.startsWith('x-dragonfly-')) continue;
    out[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return out;
}

/** Response headers to relay to the client: hop-by-hop ones dropped. */
export function relayedHeaders(headers: Record<string, string | string[] | undefined>): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || NOT_FORWARDED.has(name.toLowerCase())) continue;
    out[name] = value;
  }
  return out;
}
