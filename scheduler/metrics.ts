/** The `dragonfly_scheduler_*` metrics (names and labels of Dragonfly's `scheduler/metrics`). */
import { exponentialBuckets, MetricsRegistry } from '../api/index.ts';
import type { Resources } from './resource/resources.ts';

const PREFIX = 'dragonfly_scheduler_';
const PEER_LABELS = ['priority', 'task_type', 'host_type'] as const;
const PIECE_LABELS = ['traffic_type', 'task_type', 'host_type'] as const;

export function createSchedulerMetrics(resources?: Resources) {
  const registry = new MetricsRegistry();
  const counter = (name: string, help: string, labels: readonly string[] = []) => registry.counter(PREFIX + name, help, labels);
  const metrics = {
    registry,
    announcePeer: counter('announce_peer_total', 'AnnouncePeer streams opened.'),
    announcePeerFailure: counter('announce_peer_failure_total', 'AnnouncePeer streams ended with an error.'),
    registerPeer: counter('register_peer_total', 'Peers registered.', PEER_LABELS),
    registerPeerFailure: counter('register_peer_failure_total', 'Peer registrations that failed.', PEER_LABELS),
    downloadPeerStarted: counter('download_peer_started_total', 'Peers that started downloading from parents.', PEER_LABELS),
    downloadPeerStartedFailure: counter('download_peer_started_failure_total', 'DownloadPeerStarted reports that failed.', PEER_LABELS),
    downloadPeerBackToSourceStarted: counter('download_peer_back_to_source_started_total', 'Peers that started downloading from the origin.', PEER_LABELS),
    downloadPeerBackToSourceStartedFailure: counter(
      'download_peer_back_to_source_started_failure_total',
      'DownloadPeerBackToSourceStarted reports that failed.',
      PEER_LABELS,
    ),
    downloadPeer: counter('download_peer_total', 'Peer downloads that ended.', PEER_LABELS),
    downloadPeerFailure: counter('download_peer_failure_total', 'Peer downloads that failed.', PEER_LABELS),
    downloadPeerBackToSourceFailure: counter('download_peer_back_to_source_failure_total', 'Peer downloads from the origin that failed.', PEER_LABELS),
    downloadPieceFinished: counter('download_piece_finished_total', 'Pieces reported, finished or failed.', PIECE_LABELS),
    downloadPieceFinishedFailure: counter('download_piece_finished_failure_total', 'Pieces reported failed.', PIECE_LABELS),
    traffic: counter('traffic', 'Bytes of finished pieces, by traffic type.', ['type', 'task_type', 'host_type']),
    statTask: counter('stat_task_total', 'StatTask calls.'),
    statTaskFailure: counter('stat_task_failure_total', 'StatTask calls that failed.'),
    statPeer: counter('stat_peer_total', 'StatPeer calls.'),
    statPeerFailure: counter('stat_peer_failure_total', 'StatPeer calls that failed.'),
    leavePeer: counter('leave_peer_total', 'LeavePeer calls.'),
    leavePeerFailure: counter('leave_peer_failure_total', 'LeavePeer calls that failed.'),
    announceHost: counter('announce_host_total', 'AnnounceHost calls.', ['os', 'platform', 'host_type', 'version']),
    announceHostFailure: counter('announce_host_failure_total', 'AnnounceHost calls that failed.'),
    leaveHost: counter('leave_host_total', 'LeaveHost calls.'),
    leaveHostFailure: counter('leave_host_failure_total', 'LeaveHost calls that failed.'),
    listHosts: counter('list_hosts_total', 'ListHosts calls.'),
    seedTrigger: counter('trigger_seed_peer_total', 'DownloadTask calls to seed peers.'),
    seedTriggerFailure: counter('trigger_seed_peer_failure_total', 'DownloadTask calls to seed peers that failed.'),
    scheduleDuration: registry.histogram(
      `${PREFIX}schedule_duration_milliseconds`,
      'Time from a register or reschedule to the answer, in milliseconds.',
      exponentialBuckets(1, 2, 14),
    ),
    downloadPeerDuration: registry.histogram(
      `${PREFIX}download_peer_duration_milliseconds`,
      'Time from register to finished, in milliseconds.',
      exponentialBuckets(100, 2, 16),
    ),
    concurrentSchedule: registry.gauge(`${PREFIX}concurrent_schedule_total`, 'Peers being scheduled now.'),
    gcReclaimed: counter('gc_reclaimed_total', 'Resources removed by GC.', ['type']),
  };
  if (resources) {
    registry.gauge(`${PREFIX}resources`, 'Hosts, tasks and peers in memory.', ['type'], (gauge) => {
      gauge.set({ type: 'host' }, resources.hosts.size);
      gauge.set({ type: 'task' }, resources.tasks.size);
      gauge.set({ type: 'peer' }, resources.peers.size);
      gauge.set({ type: 'seed_host' }, resources.seedRing.size);
    });
  }
  return metrics;
}

export type SchedulerMetrics = ReturnType<typeof createSchedulerMetrics>;
