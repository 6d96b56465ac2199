/**
 * Triggering a seed peer: `dfdaemon.v2.DfdaemonUpload/DownloadTask` on the seed host's upload port,
 * stream drained to its end. The seed registers itself over AnnouncePeer like any peer while it
 * downloads; this call only tells it to start and reports whether it could.
 */
import * as grpc from '@grpc/grpc-js';
import type { commonv2, dfdaemonv2 } from '../../api/index.ts';
import type { Host } from '../resource/host.ts';

/** Dragonfly's seed peer task download timeout. */
export const SEED_DOWNLOAD_TIMEOUT_MS = 10 * 3600 * 1000;

export interface SeedDownloader {
  /** Resolves when the seed's DownloadTask stream ends OK; rejects with the gRPC error otherwise. */
  downloadTask(host: Host, download: commonv2.Download, signal: AbortSignal): Promise<void>;
  close(): void;
}

export function hostAddress(ip: string, port: number): string {
  return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
}

type UploadClientConstructor = new (address: string, credentials: grpc.ChannelCredentials, options?: grpc.ChannelOptions) => dfdaemonv2.DfdaemonUploadClient;

/** One channel per seed address, reused across tasks and closed with the scheduler. */
export function createGrpcSeedDownloader(DfdaemonUpload: UploadClientConstructor, credentials: grpc.ChannelCredentials = grpc.credentials.createInsecure()): SeedDownloader {
  const clients = new Map<string, dfdaemonv2.DfdaemonUploadClient>();
  const clientFor = (address: string) => {
    let client = clients.get(address);
    if (!client) {
      client = new DfdaemonUpload(address, credentials);
      clients.set(address, client);
    }
    return client;
  };
  return {
    downloadTask(host, download, signal) {
      return new Promise<void>((resolve, reject) => {
        if (signal.aborted) {
          reject(signal.reason);
          return;
        }
        const timeoutMs = typeof download.timeoutMs === 'number' && download.timeoutMs > 0 ? download.timeoutMs : SEED_DOWNLOAD_TIMEOUT_MS;
        const call = clientFor(hostAddress(host.info.ip, host.info.port)).DownloadTask({ download }, { deadline: Date.now() + timeoutMs });
        const onAbort = () => call.cancel();
        signal.addEventListener('abort', onAbort, { once: true });
        let settled = false;
        const settle = (error?: Error) => {
          if (settled) return;
          settled = true;
          signal.removeEventListener('abort', onAbort);
          if (error) reject(error);
          else resolve();
        };
        // Drain: the responses are the seed's progress, which the seed also reports over AnnouncePeer.
        call.on('data', () => {});
        call.on('error', (error) => settle(error));
        call.on('status', (status) => {
          if (status.code === grpc.status.OK) settle();
        });
      });
    },
    close() {
      for (const client of clients.values()) client.close();
      clients.clear();
    },
  };
}
