/**
 * Decoding gRPC requests into checked values, before anything touches the store or the network.
 * Every rule fails with InvalidArgumentError (INVALID_ARGUMENT), naming the field; sizes are bounded
 * so a hostile peer cannot make the daemon hash megabytes of task id or keep huge header maps.
 * Pure: no I/O.
 */
import { isAbsolute } from 'node:path';
import {
  InvalidArgumentError,
  isTaskId,
  MAX_PIECE_LENGTH,
  MIN_PIECE_LENGTH,
  parseDigest,
  type commonv2,
} from '../../api/index.ts';

export const REQUEST_LIMITS = Object.freeze({
  urlChars: 8192,
  pathChars: 4096,
  tagChars: 1024,
  headerCount: 128,
  headerChars: 8192,
  filteredParams: 128,
  interestedPieces: 100_000,
  maxTimeoutMs: 7 * 24 * 3600 * 1000,
});

const SCHEMES = new Set(['http:', 'https:', 'file:']);

/** What a validated `Download` asks for. */
export interface DownloadSpec {
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly tag?: string | undefined;
  readonly application?: string | undefined;
  readonly filteredQueryParams?: readonly string[] | undefined;
  readonly pieceLength?: number | undefined;
  readonly contentForCalculatingTaskId?: string | undefined;
  readonly enableTaskIdBasedBlobDigest?: boolean | undefined;
  readonly digest?: string | undefined;
  readonly outputPath?: string | undefined;
  readonly overwrite: boolean;
  readonly forceHardLink: boolean;
  readonly timeoutMs?: number | undefined;
  readonly disableBackToSource: boolean;
  readonly needBackToSource: boolean;
  readonly concurrentPieceCount?: number | undefined;
  /** Priority name as the proto's enum (`LEVEL6`). */
  readonly priority: string;
  /**
   * Tasks up to this size come straight from the origin, without the scheduler (default: Dragonfly's
   * 4 MiB). The registry mirror lowers it: a 3 MiB layer pulled by a thousand nodes is what melts
   * a registry.
   */
  readonly directFromOriginMaxBytes?: number | undefined;
  /** A proxy answer streams the content in order while it downloads (engine `inOrderReader`). */
  readonly inOrderReader?: boolean | undefined;
}

function short(text: string): string {
  return JSON.stringify(text.length > 80 ? `${text.slice(0, 80)}...` : text);
}

function boundedString(name: string, value: string | undefined, max: number): string | undefined {
  if (value === undefined || value === '') return undefined;
  if (typeof value !== 'string') throw new InvalidArgumentError(`${name} must be a string`);
  if (value.length > max) throw new InvalidArgumentError(`${name} is ${value.length} characters long; at most ${max} are allowed`);
  if (value.includes('\0')) throw new InvalidArgumentError(`${name} contains a NUL character`);
  return value;
}

export function checkTaskId(taskId: string, name = 'task_id'): string {
  if (typeof taskId !== 'string' || !isTaskId(taskId)) {
    throw new InvalidArgumentError(`${name} ${short(String(taskId ?? ''))} is not a task id (64 lower-case hex characters)`);
  }
  return taskId;
}

/** Piece numbers a SyncPieces caller is interested in: bounded, each below `pieceCount`. */
export function checkPieceNumbers(numbers: readonly number[], pieceCount: number): ReadonlySet<number> | undefined {
  if (numbers.length === 0) return undefined;
  if (numbers.length > REQUEST_LIMITS.interestedPieces) throw new InvalidArgumentError(`too many interested_piece_numbers (${numbers.length})`);
  for (const number of numbers) {
    if (!Number.isSafeInteger(number) || number < 0 || number >= pieceCount) {
      throw new InvalidArgumentError(`piece number ${number} is out of range: the task has ${pieceCount} pieces`);
    }
  }
  return new Set(numbers);
}

/** A `Download` message to a spec; `output` says whether this API writes an output file at all. */
export function downloadSpecOf(download: commonv2.Download__Output | null | undefined, options: { output: boolean }): DownloadSpec {
  if (!download) throw new InvalidArgumentError('download is required');
  const url = boundedString('download.url', download.url, REQUEST_LIMITS.urlChars);
  if (!url) throw new InvalidArgumentError('download.url is required');
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new InvalidArgumentError(`download.url ${short(url)} is not a URL`);
  }
  if (!SCHEMES.has(parsed.protocol)) throw new InvalidArgumentError(`download.url scheme ${parsed.protocol} is not supported: use http, https or file`);
  if (download.type !== undefined && download.type !== 'STANDARD') throw new InvalidArgumentError(`download.type ${download.type} is not supported: only STANDARD tasks`);
  if (download.range) throw new InvalidArgumentError('download.range is not supported yet: whole tasks only');
  const digest = boundedString('download.digest', download.digest, 256);
  if (digest !== undefined) {
    try {
      parseDigest(digest);
    } catch (error) {
      throw new InvalidArgumentError(`download.digest: ${(error as Error).message}`);
    }
  }
  const pieceLength = download.pieceLength;
  if (pieceLength !== undefined && (!Number.isSafeInteger(pieceLength) || pieceLength < MIN_PIECE_LENGTH || pieceLength > MAX_PIECE_LENGTH)) {
    throw new InvalidArgumentError(`download.piece_length must be between ${MIN_PIECE_LENGTH} and ${MAX_PIECE_LENGTH} bytes, got ${pieceLength}`);
  }
  let outputPath = boundedString('download.output_path', download.outputPath, REQUEST_LIMITS.pathChars);
  if (!options.output) outputPath = undefined;
  if (outputPath !== undefined && !isAbsolute(outputPath)) throw new InvalidArgumentError(`download.output_path ${short(outputPath)} must be absolute`);
  const headerEntries = Object.entries(download.requestHeader ?? {});
  if (headerEntries.length > REQUEST_LIMITS.headerCount) throw new InvalidArgumentError(`download.request_header has ${headerEntries.length} entries; at most ${REQUEST_LIMITS.headerCount}`);
  for (const [key, value] of headerEntries) {
    if (!/^[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,256}$/.test(key)) throw new InvalidArgumentError(`download.request_header name ${short(key)} is not a header name`);
    if (value.length > REQUEST_LIMITS.headerChars || /[\r\n\0]/.test(value)) throw new InvalidArgumentError(`download.request_header ${key} has an invalid value`);
  }
  const filtered = download.filteredQueryParams ?? [];
  if (filtered.length > REQUEST_LIMITS.filteredParams) throw new InvalidArgumentError(`download.filtered_query_params has ${filtered.length} entries`);
  filtered.forEach((param, i) => boundedString(`download.filtered_query_params[${i}]`, param, 256));
  const timeoutMs = download.timeoutMs;
  if (timeoutMs !== undefined && (!Number.isSafeInteger(timeoutMs) || timeoutMs <= 0 || timeoutMs > REQUEST_LIMITS.maxTimeoutMs)) {
    throw new InvalidArgumentError(`download.timeout_ms must be between 1 and ${REQUEST_LIMITS.maxTimeoutMs}, got ${timeoutMs}`);
  }
  const concurrent = download.concurrentPieceCount;
  if (concurrent !== undefined && (!Number.isSafeInteger(concurrent) || concurrent < 1 || concurrent > 1024)) {
    throw new InvalidArgumentError(`download.concurrent_piece_count must be from 1 to 1024, got ${concurrent}`);
  }
  return Object.freeze({
    url,
    headers: Object.freeze(Object.fromEntries(headerEntries)),
    tag: boundedString('download.tag', download.tag, REQUEST_LIMITS.tagChars),
    application: boundedString('download.application', download.application, REQUEST_LIMITS.tagChars),
    filteredQueryParams: filtered.length > 0 ? Object.freeze([...filtered]) : undefined,
    pieceLength,
    contentForCalculatingTaskId: boundedString('download.content_for_calculating_task_id', download.contentForCalculatingTaskId ?? undefined, REQUEST_LIMITS.urlChars),
    enableTaskIdBasedBlobDigest: download.enableTaskIdBasedBlobDigest === true,
    digest,
    outputPath,
    overwrite: download.overwrite === true,
    forceHardLink: download.forceHardLink === true,
    timeoutMs,
    disableBackToSource: download.disableBackToSource === true,
    needBackToSource: download.needBackToSource === true,
    concurrentPieceCount: concurrent,
    priority: String(download.priority ?? 'LEVEL6'),
  });
}
