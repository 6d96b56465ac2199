/** Who this daemon is, as the scheduler and peers see it. Pure. */
import { arch, platform } from 'node:os';
import { hostIdOf, peerIdOf, type commonv2 } from '../api/index.ts';
import type { DfdaemonConfig } from './config.ts';

export interface Identity {
  readonly hostId: string;
  readonly hostname: string;
  readonly ip: string;
  readonly seed: boolean;
  newPeerId(): string;
}

export function identityOf(config: DfdaemonConfig): Identity {
  const { ip, hostname } = config.host;
  const seed = config.seedPeer.enable;
  return { hostId: hostIdOf(ip, hostname, seed), hostname, ip, seed, newPeerId: () => peerIdOf(ip, hostname, seed) };
}

export interface BoundPorts {
  readonly upload: number;
  readonly pieces: number;
  readonly proxy: number;
  readonly metrics: number;
  readonly health: number;
}

/** The load the announcer measured over its last interval. */
export interface HostLoad {
  /** Bits per second sent to peers. */
  readonly txBandwidth: number;
  /** Bytes uploaded during the last interval. */
  readonly uploadContentLength: number;
  readonly concurrentUploadPieceCount: number;
  readonly uploadTcpConnectionCount: number;
}

export const DAEMON_VERSION = '0.1.0';

/** The piece server port children are told to fetch from: storage.server.advertisePort, else the bound one. */
export function advertisedPiecePort(config: DfdaemonConfig, bound: number): number {
  return config.storage.server.advertisePort || bound;
}

export function hostMessage(config: DfdaemonConfig, identity: Identity, ports: BoundPorts, load: HostLoad): commonv2.Host {
  return {
    id: identity.hostId,
    type: identity.seed ? 'HOST_TYPE_SUPER_SEED' : 'HOST_TYPE_NORMAL',
    hostname: identity.hostname,
    ip: identity.ip,
    port: ports.upload,
    downloadPort: advertisedPiecePort(config, ports.pieces),
    proxyPort: ports.proxy,
    os: platform(),
    platform: `${platform()}-${arch()}`,
    network: {
      tcpConnectionCount: load.uploadTcpConnectionCount,
      uploadTcpConnectionCount: load.uploadTcpConnectionCount,
      location: config.host.location || undefined,
      idc: config.host.idc || undefined,
      maxRxBandwidth: config.download.bandwidthLimit,
      rxBandwidth: 0,
      // The upload limit is what this host can give; a leech gives nothing.
      maxTxBandwidth: config.upload.disableShared ? 0 : config.upload.bandwidthLimit,
      txBandwidth: load.txBandwidth,
    },
    disableShared: config.upload.disableShared,
    schedulerClusterId: 0,
    uploadContentLength: load.uploadContentLength,
    concurrentUploadPieceCount: load.concurrentUploadPieceCount,
    version: DAEMON_VERSION,
  };
}
