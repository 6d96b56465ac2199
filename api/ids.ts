/** Task, host, peer and piece ids, exactly Dragonfly's (`id_generator/mod.rs`, `idgen/task_id.go`). */
import { createHash, randomUUID } from 'node:crypto';
import { DfError } from './errors.ts';

/** Query parameters that carry signatures or routing, not content: removed before hashing a URL. */
export const DEFAULT_FILTERED_QUERY_PARAMS: readonly string[] = Object.freeze([
  // S3
  'X-Amz-Algorithm', 'X-Amz-Credential', 'X-Amz-Date', 'X-Amz-Expires', 'X-Amz-SignedHeaders',
  'X-Amz-Signature', 'X-Amz-Security-Token', 'X-Amz-User-Agent',
  // GCS
  'X-Goog-Algorithm', 'X-Goog-Credential', 'X-Goog-Date', 'X-Goog-Expires', 'X-Goog-SignedHeaders',
  'X-Goog-Signature',
  // OSS
  'OSSAccessKeyId', 'Expires', 'Signature', 'SecurityToken',
  // OBS
  'AccessKeyId', 'X-Obs-Date', 'X-Obs-Security-Token',
  // COS
  'q-sign-algorithm', 'q-ak', 'q-sign-time', 'q-key-time', 'q-header-list', 'q-url-param-list',
  'q-signature', 'x-cos-security-token',
  // containerd's mirror namespace
  'ns',
]);

export interface TaskIdInput {
  url: string;
  tag?: string | undefined;
  application?: string | undefined;
  revision?: string | undefined;
  pieceLength?: number | undefined;
  /** Defaults to DEFAULT_FILTERED_QUERY_PARAMS; an empty list leaves the URL exactly as given. */
  filteredQueryParams?: readonly string[] | undefined;
  /** When set, the task id is the sha256 of this content and nothing else counts. */
  contentForCalculatingTaskId?: string | undefined;
  /**
   * For OCI blob URLs (`.../v2/<name>/blobs/sha256:<hex>`): the task id is the blob's sha256 hex,
   * so one layer pulled from several repositories or registry mirrors is one task.
   */
  enableTaskIdBasedBlobDigest?: boolean | undefined;
}

/** Dragonfly's `^(.*)://(.*)/v2/(.*)/blobs/([^?]+)`, narrowed to sha256: its hex is a task id. */
const BLOB_URL = /^[^:]+:\/\/[^/]*\/(?:.*\/)?v2\/.+\/blobs\/sha256:([0-9a-f]{64})(?:\?.*)?$/;

/** The blob digest's hex of an OCI blob URL, or undefined when `url` is not one. */
export function blobDigestHexOf(url: string): string | undefined {
  return BLOB_URL.exec(url)?.[1];
}

/** Go's url.QueryEscape: unreserved bytes kept, space as '+', everything else %XX upper-case. */
function goQueryEscape(text: string): string {
  let out = '';
  for (const byte of Buffer.from(text, 'utf8')) {
    const c = String.fromCharCode(byte);
    if (/[A-Za-z0-9\-_.~]/.test(c)) out += c;
    else if (c === ' ') out += '+';
    else out += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/**
 * The URL that identifies content: filtered params removed, remaining keys sorted and re-encoded
 * the way Go's url.Values.Encode does (so scheduler and peers agree), query dropped when empty,
 * and the lone "/" path trimmed.
 */
export function canonicalTaskUrl(url: string, filteredQueryParams: readonly string[] = DEFAULT_FILTERED_QUERY_PARAMS): string {
  if (filteredQueryParams.length === 0) return url;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch (error) {
    throw new DfError('DF_ERR_INVALID_URL', `invalid URL "${url}"`, { cause: error });
  }
  const filtered = new Set(filteredQueryParams);
  const byKey = new Map<string, string[]>();
  for (const [key, value] of parsed.searchParams) {
    if (filtered.has(key)) continue;
    const values = byKey.get(key) ?? [];
    values.push(value);
    byKey.set(key, values);
  }
  const query = [...byKey.keys()]
    .sort()
    .flatMap((key) => byKey.get(key)!.map((value) => `${goQueryEscape(key)}=${goQueryEscape(value)}`))
    .join('&');
  const path = parsed.pathname === '/' ? '' : parsed.pathname;
  const userinfo = parsed.username ? `${parsed.username}${parsed.password ? `:${parsed.password}` : ''}@` : '';
  return `${parsed.protocol}//${userinfo}${parsed.host}${path}${query ? `?${query}` : ''}${parsed.hash}`;
}

function sha256Hex(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/**
 * Dragonfly's rules, first match wins: sha256 of `contentForCalculatingTaskId`; the blob digest of
 * an OCI blob URL when `enableTaskIdBasedBlobDigest`; else sha256 hex of canonical url ‖ tag ‖
 * application ‖ revision ‖ piece length ‖ "STANDARD".
 */
export function taskIdOf(input: TaskIdInput): string {
  if (input.contentForCalculatingTaskId) return sha256Hex(input.contentForCalculatingTaskId);
  if (input.enableTaskIdBasedBlobDigest) {
    const hex = blobDigestHexOf(input.url);
    if (hex) return hex;
  }
  const parts = [canonicalTaskUrl(input.url, input.filteredQueryParams)];
  if (input.tag) parts.push(input.tag);
  if (input.application) parts.push(input.application);
  if (input.revision) parts.push(input.revision);
  if (input.pieceLength !== undefined) parts.push(String(input.pieceLength));
  parts.push('STANDARD');
  return sha256Hex(parts.join(''));
}

/** A task id is 64 lower-case hex characters: anything else (say, "../x") is refused before touching disk. */
export function isTaskId(value: string): boolean {
  return /^[0-9a-f]{64}$/.test(value);
}

export function hostIdOf(ip: string, hostname: string, seed = false): string {
  return `${ip}-${hostname}${seed ? '-seed' : ''}`;
}

export function peerIdOf(ip: string, hostname: string, seed = false): string {
  return `${ip}-${hostname}-${randomUUID()}${seed ? '-seed' : ''}`;
}

export function pieceIdOf(taskId: string, number: number): string {
  return `${taskId}-${number}`;
}
