/**
 * A host as announced by its dfdaemon (AnnounceHost), plus the load the scheduler projects onto it:
 * each edge it adds towards a child bumps the host's transmit bandwidth, upload content length and
 * concurrent upload pieces until the next announce reports the real numbers.
 */

export type HostType = 'normal' | 'seed';

/** What AnnounceHost tells about a host; numbers are already validated as safe integers. */
export interface HostInfo {
  readonly id: string;
  readonly type: HostType;
  readonly hostname: string;
  readonly ip: string;
  /** DfdaemonUpload gRPC port. */
  readonly port: number;
  /** Piece server (HTTP) port. */
  readonly downloadPort: number;
  readonly proxyPort: number;
  readonly os: string;
  readonly platform: string;
  readonly version: string;
  readonly disableShared: boolean;
  readonly schedulerClusterId: number;
  readonly idc: string;
  readonly location: string;
  readonly tcpConnectionCount: number;
  readonly uploadTcpConnectionCount: number;
  /** Bits per second. */
  readonly maxTxBandwidth: number;
  readonly txBandwidth: number;
  readonly maxRxBandwidth: number;
  readonly rxBandwidth: number;
  /** Bytes uploaded in the last announce interval. */
  readonly uploadContentLength: number;
  readonly concurrentUploadPieceCount: number;
}

export class Host {
  readonly id: string;
  info: HostInfo;
  /** How often the host says it announces; it is forgotten after two missed announces. */
  announceIntervalMs: number | undefined;

  // Projected load, reset by every announce and bumped by every edge.
  txBandwidth: number;
  uploadContentLength: number;
  concurrentUploadPieceCount: number;
  /** Children downloading from this host now. */
  concurrentUploadCount = 0;
  uploadCount = 0;
  uploadFailedCount = 0;
  /** Registrations of this host in flight: later ones are delayed (thundering herd on the origin). */
  concurrentRegisterCount = 0;

  readonly peerIds = new Set<string>();
  readonly createdAt: number;
  updatedAt: number;

  constructor(info: HostInfo, announceIntervalMs: number | undefined, now: number) {
    this.id = info.id;
    this.info = info;
    this.announceIntervalMs = announceIntervalMs;
    this.txBandwidth = info.txBandwidth;
    this.uploadContentLength = info.uploadContentLength;
    this.concurrentUploadPieceCount = info.concurrentUploadPieceCount;
    this.createdAt = now;
    this.updatedAt = now;
  }

  get type(): HostType {
    return this.info.type;
  }

  /** A re-announce replaces what the host said and resets the projected load to it. */
  update(info: HostInfo, announceIntervalMs: number | undefined, now: number): void {
    this.info = info;
    if (announceIntervalMs !== undefined) this.announceIntervalMs = announceIntervalMs;
    this.txBandwidth = info.txBandwidth;
    this.uploadContentLength = info.uploadContentLength;
    this.concurrentUploadPieceCount = info.concurrentUploadPieceCount;
    this.updatedAt = now;
  }

  /** Load of one more child; undone by `removeUploadLoad` when the edge goes. */
  addUploadLoad(bandwidth: number, pieces: number, contentLength: number): void {
    this.uploadCount++;
    this.concurrentUploadCount++;
    this.txBandwidth += bandwidth;
    this.concurrentUploadPieceCount += pieces;
    this.uploadContentLength += contentLength;
  }

  removeUploadLoad(bandwidth: number, pieces: number, contentLength: number): void {
    this.concurrentUploadCount = Math.max(0, this.concurrentUploadCount - 1);
    this.txBandwidth = Math.max(0, this.txBandwidth - bandwidth);
    this.concurrentUploadPieceCount = Math.max(0, this.concurrentUploadPieceCount - pieces);
    this.uploadContentLength = Math.max(0, this.uploadContentLength - contentLength);
  }

  /** When the host is forgotten: after two missed announce intervals or hostTTL, whichever comes first. */
  expiresAt(hostTtlMs: number): number {
    const interval = this.announceIntervalMs;
    const ttl = interval !== undefined && interval > 0 ? Math.min(2 * interval, hostTtlMs) : hostTtlMs;
    return this.updatedAt + ttl;
  }
}
