/**
 * Valid requests per gRPC method, the starting points the fuzzer breaks. Every address in them is
 * loopback; every download URL is the test's origin.
 */
import { join } from 'node:path';
import type { Samples } from './grpc-targets.ts';

const TASK = 'a'.repeat(64);

export function daemonSamples(input: { originUrl: string; taskIds: readonly string[]; outputDir: string }): Samples {
  const taskId = input.taskIds[0] ?? TASK;
  const download = (extra: object = {}) => ({ download: { url: input.originUrl, type: 'STANDARD', priority: 'LEVEL6', ...extra } });
  return {
    DownloadTask: [
      [download()],
      [download({ outputPath: join(input.outputDir, 'out.bin'), overwrite: true })],
      [download({ range: { start: 1, length: 10 }, digest: 'crc32:1', pieceLength: 4 * 1024 * 1024, requestHeader: { a: 'b' } })],
      [download({ needBackToSource: true, timeoutMs: 5_000, filteredQueryParams: ['x'] })],
    ],
    SyncPieces: [[{ hostId: 'h', taskId, interestedPieceNumbers: [0, 1] }], [{ taskId: TASK, relay: true }]],
    StatTask: [[{ taskId }], [{ taskId: TASK }]],
    DeleteTask: [[{ taskId: TASK }]],
    SyncHost: [[{ hostId: 'h', peerId: 'p' }]],
  };
}

export function schedulerSamples(input: { closedPort: number }): Samples {
  const host = (id: string) => ({ id, type: 'HOST_TYPE_NORMAL', hostname: id, ip: '127.0.0.1', port: input.closedPort, downloadPort: input.closedPort, os: 'linux', platform: 'x' });
  const download = { url: `http://127.0.0.1:${input.closedPort}/f`, type: 'STANDARD', priority: 'LEVEL6', needBackToSource: true, actualContentLength: 10, actualPieceCount: 1, actualPieceLength: 4194304 };
  const head = { hostId: 'fuzz-host', taskId: TASK, peerId: 'fuzz-peer' };
  return {
    AnnounceHost: [[{ host: host('fuzz-host'), intervalMs: 1000 }], [{ host: host('other') }]],
    AnnouncePeer: [
      [{ ...head, registerPeerRequest: { download } }],
      [{ ...head, registerPeerRequest: { download } }, { ...head, downloadPeerBackToSourceStartedRequest: {} }, { ...head, downloadPieceBackToSourceFinishedRequest: { piece: { number: 0, length: 10, digest: 'crc32:1' } } }],
      [{ ...head, downloadPeerStartedRequest: {} }],
      [{ ...head, registerPeerRequest: { download } }, { ...head, downloadPeerFinishedRequest: { contentLength: 10, pieceCount: 1 } }],
    ],
    StatPeer: [[head]],
    LeavePeer: [[head]],
    StatTask: [[{ taskId: TASK }]],
    ListHosts: [[{}], [{ type: 'HOST_TYPE_SUPER_SEED' }]],
    LeaveHost: [[{ hostId: 'fuzz-host' }]],
    PreheatTask: [[{ download, ips: ['127.0.0.1'], count: 1 }]],
    ListTaskPeers: [[{ taskId: TASK }]],
    DeleteTask: [[{ taskId: TASK }]],
  };
}

export function managerSamples(): Samples {
  const who = { sourceType: 'SCHEDULER_SOURCE', hostname: 'fuzz', ip: '127.0.0.1' };
  return {
    UpdateScheduler: [[{ ...who, port: 8002, idc: 'x', location: 'a|b', schedulerClusterId: 1, features: ['schedule'] }]],
    GetScheduler: [[{ ...who, schedulerClusterId: 1 }]],
    ListSchedulers: [[{ ...who, idc: 'x', location: 'a', version: '1' }], [{ ...who, sourceType: 'PEER_SOURCE', schedulerClusterId: 1 }]],
    ListApplications: [[who]],
    UpdateSeedPeer: [[{ ...who, sourceType: 'SEED_PEER_SOURCE', type: 'super', port: 4000, downloadPort: 4005, seedPeerClusterId: 1 }]],
    DeleteSeedPeer: [[{ ...who, seedPeerClusterId: 1 }]],
    KeepAlive: [[{ ...who, clusterId: 1 }], [{ ...who, clusterId: 1 }, { ...who, clusterId: 1 }]],
    ReportEvents: [[{ hostname: 'fuzz', ip: '127.0.0.1', schedulerClusterId: 1, hosts: [], peers: [], dropped: 0 }]],
  };
}
