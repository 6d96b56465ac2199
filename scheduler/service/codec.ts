/**
 * Wire messages to checked domain values and back. Every bound lives here: a request that breaks
 * one is refused with INVALID_ARGUMENT naming the field, before it reaches the service.
 */
import { InvalidArgumentError, isTaskId, parseDigest, type commonv2, type schedulerv2 } from '../../api/index.ts';
import type { HostInfo, HostType } from '../resource/host.ts';
import type { PeerRange } from '../resource/peer.ts';
import type { PieceInfo } from '../resource/task.ts';

export const LIMITS = Object.freeze({
  idLength: 512,
  hostnameLength: 255,
  urlLength: 16_384,
  textLength: 4096,
  labelLength: 1024,
  headerCount: 256,
  headerValueLength: 16_384,
  filteredQueryParamCount: 256,
  /** 16M pieces: 64 TiB at 4 MiB. Bounds the per-peer piece bitset. */
  pieceCount: 1 << 24,
  pieceLength: 2 ** 32,
  concurrentPieceCount: 65_535,
  rescheduleParents: 1024,
  announceIntervalMs: 7 * 24 * 3600 * 1000,
});

export function text(value: unknown, field: string, max: number, required = false): string {
  if (value === undefined || value === null) value = '';
  if (typeof value !== 'string') throw new InvalidArgumentError(`${field} must be a string`);
  if (required && value.length === 0) throw new InvalidArgumentError(`${field} is required`);
  if (value.length > max) throw new InvalidArgumentError(`${field} is ${value.length} characters long; at most ${max}`);
  return value;
}

function optionalText(value: unknown, field: string, max: number): string | undefined {
  return value === undefined || value === null ? undefined : text(value, field, max);
}

export function integer(value: unknown, field: string, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value)) throw new InvalidArgumentError(`${field} must be an integer, got ${String(value)}`);
  if (value < min || value > max) throw new InvalidArgumentError(`${field} must be within [${min}, ${max}], got ${value}`);
  return value;
}

function optionalInteger(value: unknown, field: string, min = 0, max = Number.MAX_SAFE_INTEGER): number | undefined {
  return value === undefined || value === null ? undefined : integer(value, field, min, max);
}

export function id(value: unknown, field: string): string {
  return text(value, field, LIMITS.idLength, true);
}

export function taskId(value: unknown, field = 'task_id'): string {
  const id = text(value, field, 64, true);
  if (!isTaskId(id)) throw new InvalidArgumentError(`${field} must be 64 lower-case hex characters`);
  return id;
}

/** LEVEL0..LEVEL6 as 0..6. */
export function priority(value: unknown, field = 'download.priority'): number {
  const match = typeof value === 'string' ? /^LEVEL([0-6])$/.exec(value) : null;
  if (!match) throw new InvalidArgumentError(`${field} must be LEVEL0 to LEVEL6, got ${String(value)}`);
  return Number(match[1]);
}

function enumName(value: unknown, field: string, allowed: readonly string[]): string {
  if (typeof value !== 'string' || !allowed.includes(value)) {
    throw new InvalidArgumentError(`${field} must be one of ${allowed.join(', ')}, got ${String(value)}`);
  }
  return value;
}

function digestText(value: unknown, field: string): string | undefined {
  const digest = optionalText(value, field, 256);
  if (!digest) return undefined;
  try {
    parseDigest(digest);
  } catch (error) {
    throw new InvalidArgumentError(`${field}: ${(error as Error).message}`, { cause: error });
  }
  return digest;
}

function range(value: commonv2.Range__Output | null | undefined, field: string): PeerRange | undefined {
  if (!value) return undefined;
  return { start: integer(value.start, `${field}.start`), length: integer(value.length, `${field}.length`) };
}

export interface DownloadSpec {
  readonly url: string;
  readonly digest: string | undefined;
  readonly range: PeerRange | undefined;
  readonly type: string;
  readonly tag: string | undefined;
  readonly application: string | undefined;
  readonly priority: number;
  readonly filteredQueryParams: readonly string[];
  readonly requestHeader: Readonly<Record<string, string>>;
  readonly needBackToSource: boolean;
  readonly disableBackToSource: boolean;
  readonly concurrentPieceCount: number | undefined;
  /** -1 when the peer did not say. */
  readonly contentLength: number;
  /** 0 when unknown. */
  readonly pieceLength: number;
  /** 0 when unknown. */
  readonly pieceCount: number;
  /** The message as received, forwarded to the seed peer. */
  readonly wire: commonv2.Download__Output;
}

export const TASK_TYPES = ['STANDARD', 'PERSISTENT', 'PERSISTENT_CACHE', 'CACHE'] as const;

export function decodeDownload(download: commonv2.Download__Output | null | undefined, field = 'download'): DownloadSpec {
  if (!download) throw new InvalidArgumentError(`${field} is required`);
  const headers = download.requestHeader ?? {};
  const headerNames = Object.keys(headers);
  if (headerNames.length > LIMITS.headerCount) throw new InvalidArgumentError(`${field}.request_header has more than ${LIMITS.headerCount} entries`);
  for (const name of headerNames) {
    text(name, `${field}.request_header name`, LIMITS.labelLength, true);
    text(headers[name], `${field}.request_header[${name}]`, LIMITS.headerValueLength);
  }
  const params = download.filteredQueryParams ?? [];
  if (params.length > LIMITS.filteredQueryParamCount) {
    throw new InvalidArgumentError(`${field}.filtered_query_params has more than ${LIMITS.filteredQueryParamCount} entries`);
  }
  params.forEach((param, i) => text(param, `${field}.filtered_query_params[${i}]`, LIMITS.labelLength));

  const contentLength = optionalInteger(download.actualContentLength, `${field}.actual_content_length`);
  let pieceLength = optionalInteger(download.actualPieceLength ?? download.pieceLength, `${field}.actual_piece_length`, 1, LIMITS.pieceLength);
  let pieceCount = optionalInteger(download.actualPieceCount, `${field}.actual_piece_count`, 0, LIMITS.pieceCount);
  if (contentLength !== undefined && pieceLength !== undefined) {
    const expected = Math.ceil(contentLength / pieceLength);
    if (pieceCount !== undefined && pieceCount !== expected) {
      throw new InvalidArgumentError(`${field}.actual_piece_count is ${pieceCount}, but ${contentLength} bytes in pieces of ${pieceLength} make ${expected}`);
    }
    if (expected > LIMITS.pieceCount) throw new InvalidArgumentError(`${field}: ${expected} pieces; at most ${LIMITS.pieceCount}`);
    pieceCount = expected;
  }
  if (contentLength === 0) pieceCount = 0;
  return {
    url: text(download.url, `${field}.url`, LIMITS.urlLength, true),
    digest: digestText(download.digest, `${field}.digest`),
    range: range(download.range, `${field}.range`),
    type: enumName(download.type ?? 'STANDARD', `${field}.type`, TASK_TYPES),
    tag: optionalText(download.tag, `${field}.tag`, LIMITS.labelLength),
    application: optionalText(download.application, `${field}.application`, LIMITS.labelLength),
    priority: priority(download.priority ?? 'LEVEL0', `${field}.priority`),
    filteredQueryParams: params,
    requestHeader: headers,
    needBackToSource: download.needBackToSource === true,
    disableBackToSource: download.disableBackToSource === true,
    concurrentPieceCount: optionalInteger(download.concurrentPieceCount, `${field}.concurrent_piece_count`, 1, LIMITS.concurrentPieceCount),
    contentLength: contentLength ?? -1,
    pieceLength: pieceLength ?? 0,
    pieceCount: pieceCount ?? 0,
    wire: download,
  };
}

export const TRAFFIC_TYPES = ['BACK_TO_SOURCE', 'REMOTE_PEER', 'LOCAL_PEER'] as const;

/** A piece as a peer reports it: the task's own record of a piece. */
export type PieceReport = PieceInfo;

export function decodePiece(piece: commonv2.Piece__Output | null | undefined, field: string): PieceReport {
  if (!piece) throw new InvalidArgumentError(`${field} is required`);
  return {
    number: integer(piece.number, `${field}.number`, 0, LIMITS.pieceCount - 1),
    parentId: text(piece.parentId, `${field}.parent_id`, LIMITS.idLength),
    offset: integer(piece.offset, `${field}.offset`),
    length: integer(piece.length, `${field}.length`, 0, LIMITS.pieceLength),
    digest: digestText(piece.digest, `${field}.digest`) ?? '',
    trafficType: enumName(piece.trafficType ?? 'BACK_TO_SOURCE', `${field}.traffic_type`, TRAFFIC_TYPES),
    costMs: integer(piece.costMs, `${field}.cost_ms`),
    createdAtMs: integer(piece.createdAtMs, `${field}.created_at_ms`, 0),
  };
}

const HOST_TYPES: Readonly<Record<string, HostType>> = { HOST_TYPE_NORMAL: 'normal', HOST_TYPE_SUPER_SEED: 'seed' };

export function hostTypeOf(value: unknown, field: string): HostType {
  const type = typeof value === 'string' ? HOST_TYPES[value] : undefined;
  if (!type) throw new InvalidArgumentError(`${field} must be HOST_TYPE_NORMAL or HOST_TYPE_SUPER_SEED, got ${String(value)}`);
  return type;
}

export function decodeHost(host: commonv2.Host__Output | null | undefined, field = 'host'): HostInfo {
  if (!host) throw new InvalidArgumentError(`${field} is required`);
  const network = host.network;
  return {
    id: id(host.id, `${field}.id`),
    type: hostTypeOf(host.type ?? 'HOST_TYPE_NORMAL', `${field}.type`),
    hostname: text(host.hostname, `${field}.hostname`, LIMITS.hostnameLength),
    ip: text(host.ip, `${field}.ip`, 64, true),
    port: integer(host.port, `${field}.port`, 1, 65535),
    downloadPort: integer(host.downloadPort, `${field}.download_port`, 0, 65535),
    proxyPort: integer(host.proxyPort, `${field}.proxy_port`, 0, 65535),
    os: text(host.os, `${field}.os`, LIMITS.labelLength),
    platform: text(host.platform, `${field}.platform`, LIMITS.labelLength),
    version: text(host.version, `${field}.version`, LIMITS.labelLength),
    disableShared: host.disableShared === true,
    schedulerClusterId: integer(host.schedulerClusterId ?? 0, `${field}.scheduler_cluster_id`),
    idc: text(network?.idc, `${field}.network.idc`, LIMITS.labelLength),
    location: text(network?.location, `${field}.network.location`, LIMITS.labelLength),
    tcpConnectionCount: integer(network?.tcpConnectionCount ?? 0, `${field}.network.tcp_connection_count`),
    uploadTcpConnectionCount: integer(network?.uploadTcpConnectionCount ?? 0, `${field}.network.upload_tcp_connection_count`),
    maxTxBandwidth: integer(network?.maxTxBandwidth ?? 0, `${field}.network.max_tx_bandwidth`),
    txBandwidth: integer(network?.txBandwidth ?? 0, `${field}.network.tx_bandwidth`),
    maxRxBandwidth: integer(network?.maxRxBandwidth ?? 0, `${field}.network.max_rx_bandwidth`),
    rxBandwidth: integer(network?.rxBandwidth ?? 0, `${field}.network.rx_bandwidth`),
    uploadContentLength: integer(host.uploadContentLength ?? 0, `${field}.upload_content_length`),
    concurrentUploadPieceCount: integer(host.concurrentUploadPieceCount ?? 0, `${field}.concurrent_upload_piece_count`),
  };
}

export function announceIntervalMs(value: unknown): number | undefined {
  return optionalInteger(value, 'interval_ms', 0, LIMITS.announceIntervalMs);
}

export function optionalDescription(value: unknown, field: string): string | undefined {
  return optionalText(value, field, LIMITS.textLength);
}

export function optionalPieceNumber(value: unknown, field: string): number | undefined {
  return optionalInteger(value, field, 0, LIMITS.pieceCount - 1);
}

interface PeerIds {
  readonly hostId: string;
  readonly taskId: string;
  readonly peerId: string;
}

/** One AnnouncePeerRequest, checked; `kind` names the oneof variant. */
export type PeerRequest = PeerIds &
  (
    | { readonly kind: 'register'; readonly download: DownloadSpec }
    | { readonly kind: 'started' }
    | { readonly kind: 'backToSourceStarted'; readonly description: string | undefined }
    | { readonly kind: 'reschedule'; readonly parentIds: readonly string[]; readonly description: string | undefined }
    | { readonly kind: 'finished'; readonly contentLength: number; readonly pieceCount: number }
    | { readonly kind: 'backToSourceFinished'; readonly contentLength: number; readonly pieceCount: number }
    | { readonly kind: 'failed'; readonly description: string | undefined }
    | { readonly kind: 'backToSourceFailed'; readonly description: string | undefined }
    | { readonly kind: 'pieceFinished'; readonly piece: PieceReport }
    | { readonly kind: 'pieceBackToSourceFinished'; readonly piece: PieceReport }
    | { readonly kind: 'pieceFailed'; readonly pieceNumber: number | undefined; readonly parentId: string; readonly temporary: boolean }
    | {
        readonly kind: 'pieceBackToSourceFailed';
        readonly pieceNumber: number | undefined;
        readonly description: string | undefined;
        readonly statusCode: number | undefined;
      }
  );

function finishedCounts(value: { contentLength?: unknown; pieceCount?: unknown } | null | undefined, field: string) {
  return {
    contentLength: integer(value?.contentLength ?? 0, `${field}.content_length`),
    pieceCount: integer(value?.pieceCount ?? 0, `${field}.piece_count`, 0, LIMITS.pieceCount),
  };
}

export function decodeAnnouncePeerRequest(req: schedulerv2.AnnouncePeerRequest__Output): PeerRequest {
  const ids = { hostId: id(req.hostId, 'host_id'), taskId: taskId(req.taskId), peerId: id(req.peerId, 'peer_id') };
  switch (req.request) {
    case 'registerPeerRequest':
      return { ...ids, kind: 'register', download: decodeDownload(req.registerPeerRequest?.download, 'register_peer_request.download') };
    case 'downloadPeerStartedRequest':
      return { ...ids, kind: 'started' };
    case 'downloadPeerBackToSourceStartedRequest':
      return {
        ...ids,
        kind: 'backToSourceStarted',
        description: optionalDescription(req.downloadPeerBackToSourceStartedRequest?.description, 'description'),
      };
    case 'reschedulePeerRequest': {
      const parents = req.reschedulePeerRequest?.candidateParents ?? [];
      if (parents.length > LIMITS.rescheduleParents) throw new InvalidArgumentError(`candidate_parents has more than ${LIMITS.rescheduleParents} entries`);
      return {
        ...ids,
        kind: 'reschedule',
        parentIds: parents.map((parent, i) => id(parent.id, `candidate_parents[${i}].id`)),
        description: optionalDescription(req.reschedulePeerRequest?.description, 'description'),
      };
    }
    case 'downloadPeerFinishedRequest':
      return { ...ids, kind: 'finished', ...finishedCounts(req.downloadPeerFinishedRequest, 'download_peer_finished_request') };
    case 'downloadPeerBackToSourceFinishedRequest':
      return {
        ...ids,
        kind: 'backToSourceFinished',
        ...finishedCounts(req.downloadPeerBackToSourceFinishedRequest, 'download_peer_back_to_source_finished_request'),
      };
    case 'downloadPeerFailedRequest':
      return { ...ids, kind: 'failed', description: optionalDescription(req.downloadPeerFailedRequest?.description, 'description') };
    case 'downloadPeerBackToSourceFailedRequest':
      return {
        ...ids,
        kind: 'backToSourceFailed',
        description: optionalDescription(req.downloadPeerBackToSourceFailedRequest?.description, 'description'),
      };
    case 'downloadPieceFinishedRequest':
      return { ...ids, kind: 'pieceFinished', piece: decodePiece(req.downloadPieceFinishedRequest?.piece, 'download_piece_finished_request.piece') };
    case 'downloadPieceBackToSourceFinishedRequest':
      return {
        ...ids,
        kind: 'pieceBackToSourceFinished',
        piece: decodePiece(req.downloadPieceBackToSourceFinishedRequest?.piece, 'download_piece_back_to_source_finished_request.piece'),
      };
    case 'downloadPieceFailedRequest': {
      const failed = req.downloadPieceFailedRequest;
      return {
        ...ids,
        kind: 'pieceFailed',
        pieceNumber: optionalPieceNumber(failed?.pieceNumber, 'download_piece_failed_request.piece_number'),
        parentId: text(failed?.parentId, 'download_piece_failed_request.parent_id', LIMITS.idLength),
        temporary: failed?.temporary === true,
      };
    }
    case 'downloadPieceBackToSourceFailedRequest': {
      const failed = req.downloadPieceBackToSourceFailedRequest;
      const field = 'download_piece_back_to_source_failed_request';
      return {
        ...ids,
        kind: 'pieceBackToSourceFailed',
        pieceNumber: optionalPieceNumber(failed?.pieceNumber, `${field}.piece_number`),
        description: optionalDescription(failed?.description, `${field}.description`),
        statusCode: failed?.statusCode === undefined || failed?.statusCode === null ? undefined : integer(failed.statusCode, `${field}.status_code`, 0, 999),
      };
    }
    default:
      throw new InvalidArgumentError('AnnouncePeerRequest carries no request: set one of the oneof variants');
  }
}
