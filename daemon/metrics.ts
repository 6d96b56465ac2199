/**
 * The daemon's Prometheus metrics (Dragonfly's `dragonfly_client_*` names), on api's registry.
 * Traffic is labelled by where bytes came from: back_to_source (the origin), remote_peer (a parent),
 * local_peer (already in this daemon's store when asked for).
 */
import { MetricsRegistry, type Counter, type Gauge } from '../api/index.ts';

export type TrafficType = 'back_to_source' | 'remote_peer' | 'local_peer';
export const TRAFFIC_TYPES: readonly TrafficType[] = ['back_to_source', 'remote_peer', 'local_peer'];

export interface DaemonMetrics {
  readonly registry: MetricsRegistry;
  readonly downloadTraffic: Counter;
  readonly downloadPieces: Counter;
  readonly uploadTraffic: Counter;
  readonly uploadPieces: Counter;
  readonly uploadFailures: Counter;
  readonly downloadTasks: Counter;
  readonly downloadTaskFailures: Counter;
  readonly concurrentUploads: Gauge;
  readonly pieceDigestMismatches: Counter;
  readonly proxyRequests: Counter;
  readonly proxyRequestFailures: Counter;
  readonly proxyRequestsViaP2p: Counter;
}

export function createDaemonMetrics(): DaemonMetrics {
  const registry = new MetricsRegistry();
  const metrics: DaemonMetrics = {
    registry,
    downloadTraffic: registry.counter('dragonfly_client_download_traffic', 'Bytes of pieces downloaded, by where they came from.', ['type']),
    downloadPieces: registry.counter('dragonfly_client_download_piece_total', 'Pieces downloaded, by where they came from.', ['type']),
    uploadTraffic: registry.counter('dragonfly_client_upload_traffic', 'Bytes of pieces served to other peers.'),
    uploadPieces: registry.counter('dragonfly_client_upload_piece_total', 'Pieces served to other peers.'),
    uploadFailures: registry.counter('dragonfly_client_upload_piece_failure_total', 'Piece uploads that did not complete.'),
    downloadTasks: registry.counter('dragonfly_client_download_task_total', 'Download requests (dfget, seed-peer triggers).', ['type']),
    downloadTaskFailures: registry.counter('dragonfly_client_download_task_failure_total', 'Download requests that failed.', ['type']),
    concurrentUploads: registry.gauge('dragonfly_client_concurrent_upload_piece', 'Pieces being served now.'),
    pieceDigestMismatches: registry.counter(
      'dragonfly_client_piece_digest_mismatch_total',
      'Pieces from a parent whose bytes did not match the digest it announced.',
    ),
    proxyRequests: registry.counter('dragonfly_client_proxy_request_total', 'Requests to the proxy port (mirror, HTTP proxy, CONNECT).'),
    proxyRequestFailures: registry.counter('dragonfly_client_proxy_request_failure_total', 'Proxy requests answered with an error of the proxy or the daemon.'),
    proxyRequestsViaP2p: registry.counter('dragonfly_client_proxy_request_via_dfdaemon_total', 'Proxy requests answered from a P2P task.'),
  };
  // Zero series exist from the start, so a scrape can tell "none yet" from "not exported".
  for (const type of TRAFFIC_TYPES) {
    metrics.downloadTraffic.labels({ type });
    metrics.downloadPieces.labels({ type });
  }
  for (const type of ['normal', 'seed']) {
    metrics.downloadTasks.labels({ type });
    metrics.downloadTaskFailures.labels({ type });
  }
  metrics.uploadTraffic.labels();
  metrics.uploadPieces.labels();
  metrics.uploadFailures.labels();
  metrics.concurrentUploads.labels();
  metrics.pieceDigestMismatches.labels();
  metrics.proxyRequests.labels();
  metrics.proxyRequestFailures.labels();
  metrics.proxyRequestsViaP2p.labels();
  return metrics;
}
