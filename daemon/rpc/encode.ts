/** Engine values to wire messages. Pure. */
import type { commonv2 } from '../../api/index.ts';
import type { PieceRecord, TaskView } from '../../engine/index.ts';
import type { TrafficType } from '../metrics.ts';

const TRAFFIC_ENUM: Record<TrafficType, commonv2.TrafficType> = {
  back_to_source: 'BACK_TO_SOURCE',
  remote_peer: 'REMOTE_PEER',
  local_peer: 'LOCAL_PEER',
};

export function pieceMessage(record: PieceRecord, traffic: TrafficType, createdAtMs = Date.now()): commonv2.Piece {
  return {
    number: record.number,
    parentId: traffic === 'remote_peer' ? record.source : undefined,
    offset: record.offset,
    length: record.length,
    digest: record.digest,
    trafficType: TRAFFIC_ENUM[traffic],
    costMs: record.costMs,
    createdAtMs,
  };
}

export function taskMessage(view: TaskView, withPieces: boolean): commonv2.Task {
  return {
    id: view.taskId,
    type: 'STANDARD',
    url: view.url,
    pieceLength: view.pieceLength,
    contentLength: view.contentLength,
    pieceCount: view.pieceCount,
    sizeScope: view.contentLength === 0 ? 'EMPTY' : 'NORMAL',
    pieces: withPieces ? view.finishedPieces().map((piece) => pieceMessage(piece, 'local_peer')) : [],
    // Neither complete nor downloading: its download failed here (engine's task registry keeps it for its pieces).
    state: view.complete ? 'Succeeded' : view.downloading ? 'Running' : 'Failed',
    peerCount: 1,
    hasAvailablePeer: view.finishedPieces().length > 0,
    createdAtMs: view.createdAt,
    updatedAtMs: view.updatedAt,
  };
}
