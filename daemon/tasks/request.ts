/**
 * The one shape of a download request. dfget (with or without a daemon), the gRPC services and
 * the proxy only build it, through `taskRequest`, which checks every field once and names the one
 * that is wrong; the task layer and the P2P strategy read it. The wire form (common.v2.Download)
 * is converted in both directions here and nowhere else, so a field cannot be lost on the way from
 * dfget to the daemon to the scheduler.
 */
import { isAbsolute } from 'node:path';
import { InvalidArgumentError, InvalidDigestError, MAX_PIECE_LENGTH, MIN_PIECE_LENGTH, parseDigest, taskIdOf, type commonv2 } from '../../api/index.ts';
import { UnsupportedSchemeError } from '../../engine/index.ts';

export const REQUEST_LIMITS = Object.freeze({
  urlChars: 8192,
  pathChars: 4096,
  tagChars: 1024,
  headerCount: 128,
  headerChars: 8192,
  filteredParams: 128,
  interestedPieces: 100_000,
  maxTimeoutMs: 7 * 24 * 3600 * 1000,
  maxConcurrentPieces: 1024,
});

const SCHEMES = new Set(['http:', 'https:', 'file:']);
const PRIORITIES = ['LEVEL0', 'LEVEL1', 'LEVEL2', 'LEVEL3', 'LEVEL4', 'LEVEL5', 'LEVEL6'] as const;
export type Priority = (typeof PRIORITIES)[number];

export interface TaskRequest {
  readonly url: string;
  /** Sent to the origin with every request for this content. */
  readonly headers: Readonly<Record<string, string>>;
  readonly tag?: string | undefined;
  readonly application?: string | undefined;
  readonly filteredQueryParams?: readonly string[] | undefined;
  readonly pieceLength?: number | undefined;
  readonly contentForCalculatingTaskId?: string | undefined;
  /** The task id is the content's own digest (an OCI blob): `digest` then belongs to the task. */
  readonly enableTaskIdBasedBlobDigest: boolean;
  /** `sha256:<hex>`, `sha512:<hex>` or `crc32:<decimal>` of the whole content, checked before anyone gets it whole. */
  readonly digest?: string | undefined;
  readonly outputPath?: string | undefined;
  readonly overwrite: boolean;
  readonly forceHardLink: boolean;
  /** The whole request gives up after this long. */
  readonly timeoutMs?: number | undefined;
  /** A piece request that moves no bytes this long is retried. */
  readonly pieceTimeoutMs?: number | undefined;
  readonly disableBackToSource: boolean;
  readonly needBackToSource: boolean;
  /** Pieces in flight at once for this download. */
  readonly concurrentPieceCount?: number | undefined;
  readonly priority: Priority;
  /**
   * Local only (not on the wire). Tasks up to this size come straight from the origin, without
   * the scheduler (default: Dragonfly's 4 MiB); the registry mirror lowers it.
   */
  readonly directFromOriginMaxBytes?: number | undefined;
  /** Local only. Someone reads the content in order while it downloads: the first piece gets a head start. */
  readonly inOrderReader: boolean;
}

/** What a caller may say; everything else takes its default. */
export type TaskRequestInit = { readonly url: string } & { readonly [K in Exclude<keyof TaskRequest, 'url'>]?: TaskRequest[K] | undefined };

/** The fields that never travel in a common.v2.Download. */
export const LOCAL_ONLY_FIELDS = Object.freeze(['directFromOriginMaxBytes', 'inOrderReader'] as const);

function short(text: string): string {
  return JSON.stringify(text.length > 80 ? `${text.slice(0, 80)}...` : text);
}

function boundedString(name: string, value: unknown, max: number): string | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value !== 'string') throw new InvalidArgumentError(`${name} must be a string`);
  if (value.length > max) throw new InvalidArgumentError(`${name} is ${value.length} characters long; at most ${max} are allowed`);
  if (value.includes('\0')) throw new InvalidArgumentError(`${name} contains a NUL character`);
  return value;
}

function boundedInteger(name: string, value: unknown, min: number, max: number): number | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    throw new InvalidArgumentError(`${name} must be an integer from ${min} to ${max}, got ${String(value)}`);
  }
  return value;
}

function checkUrl(value: unknown): string {
  const url = boundedString('download.url', value, REQUEST_LIMITS.urlChars);
  if (!url) throw new InvalidArgumentError('download.url is required');
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new InvalidArgumentError(`download.url ${short(url)} is not a URL`);
  }
  if (!SCHEMES.has(parsed.protocol)) throw new UnsupportedSchemeError(url, ['http', 'https', 'file']);
  return url;
}

function checkHeaders(headers: Readonly<Record<string, string>> | undefined): Readonly<Record<string, string>> {
  const entries = Object.entries(headers ?? {});
  if (entries.length > REQUEST_LIMITS.headerCount) throw new InvalidArgumentError(`download.request_header has ${entries.length} entries; at most ${REQUEST_LIMITS.headerCount}`);
  for (const [key, value] of entries) {
    if (!/^[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,256}$/.test(key)) throw new InvalidArgumentError(`download.request_header name ${short(key)} is not a header name`);
    if (typeof value !== 'string' || value.length > REQUEST_LIMITS.headerChars || /[\r\n\0]/.test(value)) {
      throw new InvalidArgumentError(`download.request_header ${key} has an invalid value`);
    }
  }
  return Object.freeze(Object.fromEntries(entries));
}

function checkDigest(value: unknown): string | undefined {
  const digest = boundedString('download.digest', value, 256);
  if (digest === undefined) return undefined;
  try {
    parseDigest(digest);
  } catch (error) {
    throw new InvalidDigestError(`download.digest: ${(error as Error).message}`);
  }
  return digest;
}

function checkPriority(value: unknown): Priority {
  if (value === undefined || value === null) return 'LEVEL6';
  const name = typeof value === 'number' ? `LEVEL${value}` : value;
  if (!PRIORITIES.includes(name as Priority)) throw new InvalidArgumentError(`download.priority ${short(String(value))} is not one of ${PRIORITIES.join(', ')}`);
  return name as Priority;
}

/** Checks and freezes a request; every rule names the field it concerns. */
export function taskRequest(init: TaskRequestInit): TaskRequest {
  const filtered = init.filteredQueryParams ?? [];
  if (filtered.length > REQUEST_LIMITS.filteredParams) throw new InvalidArgumentError(`download.filtered_query_params has ${filtered.length} entries`);
  filtered.forEach((param, i) => boundedString(`download.filtered_query_params[${i}]`, param, 256));
  const outputPath = boundedString('download.output_path', init.outputPath, REQUEST_LIMITS.pathChars);
  if (outputPath !== undefined && !isAbsolute(outputPath)) throw new InvalidArgumentError(`download.output_path ${short(outputPath)} must be absolute`);
  return Object.freeze({
    url: checkUrl(init.url),
    headers: checkHeaders(init.headers),
    tag: boundedString('download.tag', init.tag, REQUEST_LIMITS.tagChars),
    application: boundedString('download.application', init.application, REQUEST_LIMITS.tagChars),
    filteredQueryParams: filtered.length > 0 ? Object.freeze([...filtered]) : undefined,
    pieceLength: boundedInteger('download.piece_length', init.pieceLength, MIN_PIECE_LENGTH, MAX_PIECE_LENGTH),
    contentForCalculatingTaskId: boundedString('download.content_for_calculating_task_id', init.contentForCalculatingTaskId, REQUEST_LIMITS.urlChars),
    enableTaskIdBasedBlobDigest: init.enableTaskIdBasedBlobDigest === true,
    digest: checkDigest(init.digest),
    outputPath,
    overwrite: init.overwrite === true,
    forceHardLink: init.forceHardLink === true,
    timeoutMs: boundedInteger('download.timeout_ms', init.timeoutMs, 1, REQUEST_LIMITS.maxTimeoutMs),
    pieceTimeoutMs: boundedInteger('download.piece_timeout_ms', init.pieceTimeoutMs, 1, REQUEST_LIMITS.maxTimeoutMs),
    disableBackToSource: init.disableBackToSource === true,
    needBackToSource: init.needBackToSource === true,
    concurrentPieceCount: boundedInteger('download.concurrent_piece_count', init.concurrentPieceCount, 1, REQUEST_LIMITS.maxConcurrentPieces),
    priority: checkPriority(init.priority),
    directFromOriginMaxBytes: boundedInteger('directFromOriginMaxBytes', init.directFromOriginMaxBytes, 0, Number.MAX_SAFE_INTEGER),
    inOrderReader: init.inOrderReader === true,
  });
}

/** The task this request downloads into, known before the origin is asked anything (Dragonfly's rule). */
export function taskIdOfRequest(request: TaskRequest): string {
  return taskIdOf(request);
}

/**
 * A received `Download` to a request. `output` says whether this API writes an output file at all
 * (the upload service, which the scheduler calls, never does).
 */
export function taskRequestOfDownload(download: commonv2.Download__Output | null | undefined, options: { output: boolean }): TaskRequest {
  if (!download) throw new InvalidArgumentError('download is required');
  if (download.type !== undefined && download.type !== 'STANDARD') throw new InvalidArgumentError(`download.type ${download.type} is not supported: only STANDARD tasks`);
  if (download.range) throw new InvalidArgumentError('download.range is not supported yet: whole tasks only');
  return taskRequest({
    url: download.url,
    headers: download.requestHeader,
    tag: download.tag,
    application: download.application,
    filteredQueryParams: download.filteredQueryParams,
    pieceLength: download.pieceLength,
    contentForCalculatingTaskId: download.contentForCalculatingTaskId ?? undefined,
    enableTaskIdBasedBlobDigest: download.enableTaskIdBasedBlobDigest,
    digest: download.digest,
    outputPath: options.output ? download.outputPath : undefined,
    overwrite: download.overwrite,
    forceHardLink: download.forceHardLink,
    timeoutMs: download.timeoutMs,
    pieceTimeoutMs: download.pieceTimeoutMs,
    disableBackToSource: download.disableBackToSource,
    needBackToSource: download.needBackToSource,
    concurrentPieceCount: download.concurrentPieceCount,
    priority: download.priority as Priority,
  });
}

/** A request on the wire: to the daemon (dfget), to the scheduler (registration, with the actual layout). */
export function downloadOf(request: TaskRequest, actual?: { contentLength: number; pieceLength: number; pieceCount: number }): commonv2.Download {
  return {
    url: request.url,
    digest: request.digest,
    type: 'STANDARD',
    tag: request.tag,
    application: request.application,
    priority: request.priority,
    filteredQueryParams: request.filteredQueryParams ? [...request.filteredQueryParams] : [],
    requestHeader: { ...request.headers },
    pieceLength: request.pieceLength,
    outputPath: request.outputPath,
    timeoutMs: request.timeoutMs,
    pieceTimeoutMs: request.pieceTimeoutMs,
    disableBackToSource: request.disableBackToSource,
    needBackToSource: request.needBackToSource,
    forceHardLink: request.forceHardLink,
    contentForCalculatingTaskId: request.contentForCalculatingTaskId,
    concurrentPieceCount: request.concurrentPieceCount,
    overwrite: request.overwrite,
    enableTaskIdBasedBlobDigest: request.enableTaskIdBasedBlobDigest,
    actualContentLength: actual?.contentLength,
    actualPieceLength: actual?.pieceLength,
    actualPieceCount: actual?.pieceCount,
  };
}
