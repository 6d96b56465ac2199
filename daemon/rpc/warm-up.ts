/**
 * protobufjs builds each message type's encoder and decoder the first time it is used, which costs
 * a fresh daemon ~15 ms (more on a busy machine) on its first download: the registry mirror's
 * first blob would wait for it. Running the download path's messages through their codecs once at
 * start moves that cost out of the first request.
 */
import type { Protos } from './grpc.ts';

interface Codec {
  requestSerialize(value: unknown): Buffer;
  requestDeserialize(bytes: Buffer): unknown;
  responseSerialize(value: unknown): Buffer;
  responseDeserialize(bytes: Buffer): unknown;
}

const PIECE = { number: 1, parentId: 'p', offset: 0, length: 1, digest: 'crc32:1', trafficType: 'REMOTE_PEER', cost: 1, createdAt: 1 };
const HOST = { id: 'h', type: 0, hostname: 'h', ip: '127.0.0.1', port: 1, downloadPort: 1, cpu: {}, memory: {}, network: {}, disk: {}, build: {} };
const DOWNLOAD = { url: 'http://h/x', digest: 'sha256:0', type: 'STANDARD', tag: 't', priority: 'LEVEL6', filteredQueryParams: ['a'], requestHeader: { a: 'b' }, pieceLength: 4 };

/** What the daemon sends and receives on each call of the download path, one of each kind. */
const SAMPLES: ReadonlyArray<{ service: 'scheduler' | 'dfdaemon'; name: string; method: string; request: object; response: object }> = [
  {
    service: 'scheduler',
    name: 'Scheduler',
    method: 'AnnouncePeer',
    request: { hostId: 'h', taskId: 't', peerId: 'p', registerPeerRequest: { download: DOWNLOAD }, downloadPieceFinishedRequest: { piece: PIECE } },
    response: { normalTaskResponse: { candidateParents: [{ id: 'p', pieces: [PIECE], host: HOST, task: { id: 't', pieces: [PIECE] } }] }, needBackToSourceResponse: { description: 'x' } },
  },
  { service: 'dfdaemon', name: 'DfdaemonUpload', method: 'SyncPieces', request: { hostId: 'h', taskId: 't', interestedPieceNumbers: [1] }, response: { number: 1, offset: 0, length: 1, digest: 'crc32:1', ip: 'h', tcpPort: 1 } },
  { service: 'dfdaemon', name: 'DfdaemonDownload', method: 'DownloadTask', request: { download: DOWNLOAD }, response: { hostId: 'h', taskId: 't', peerId: 'p', downloadTaskStartedResponse: { contentLength: 1 } } },
];

export function warmUpCodecs(protos: Protos): void {
  for (const sample of SAMPLES) {
    const service = (protos[sample.service] as unknown as Record<string, { service: Record<string, Codec> }>)[sample.name];
    const codec = service?.service[sample.method];
    if (!codec) continue;
    codec.requestDeserialize(codec.requestSerialize(sample.request));
    codec.responseDeserialize(codec.responseSerialize(sample.response));
  }
}
