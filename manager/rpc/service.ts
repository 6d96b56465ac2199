/**
 * The unary manager.v2 calls, thin over the registry: check the request, read or write, encode.
 * ListSchedulers answers with the active schedulers of the one cluster that best matches the
 * asking host (manager/scopes.ts); a host pinned to a cluster gets that cluster or nothing.
 */
import { RecordNotFoundError } from '../errors.ts';
import type { managerv2 } from '../../api/index.ts';
import type { ManagerContext } from '../context.ts';
import { bestCluster } from '../scopes.ts';
import {
  clusterForScheduler,
  clustersWithActiveSchedulers,
  findScheduler,
  getCluster,
  listActiveSchedulers,
  listApplications,
  upsertHost,
  upsertScheduler,
} from '../store/registry.ts';
import type { Host } from '../store/schema.ts';
import { applicationMessage, optionalId, optionalText, requireHostname, requireIp, requirePort, schedulerMessage, scopesOf, seedPeerMessage } from './codec.ts';

/** The host id Dragonfly gives a seed peer: `{ip}-{hostname}-seed`. */
export const seedHostId = (ip: string, hostname: string): string => `${ip}-${hostname}-seed`;
export const peerHostId = (ip: string, hostname: string): string => `${ip}-${hostname}`;

export class ManagerService {
  readonly #context: ManagerContext;
  readonly #searches;
  readonly #searchFailures;

  constructor(context: ManagerContext) {
    this.#context = context;
    this.#searches = context.metrics.counter('dragonfly_manager_search_scheduler_cluster_total', 'ListSchedulers calls.');
    this.#searchFailures = context.metrics.counter('dragonfly_manager_search_scheduler_cluster_failure_total', 'ListSchedulers calls that found no cluster with an active scheduler.');
  }

  get #db() {
    return this.#context.store.db;
  }

  async updateScheduler(request: managerv2.UpdateSchedulerRequest__Output): Promise<managerv2.Scheduler> {
    const hostname = requireHostname(request.hostname);
    const ip = requireIp(request.ip);
    const port = requirePort(request.port);
    const idc = optionalText(request.idc, 'idc');
    const location = optionalText(request.location, 'location');
    const features = (request.features ?? []).map((feature, i) => optionalText(feature, `features[${i}]`));
    const now = this.#context.now();
    const clusterId = await clusterForScheduler(this.#db, optionalId(request.schedulerClusterId, 'scheduler_cluster_id'), now);
    const row = await upsertScheduler(this.#db, { hostname, ip, port, idc, location, features, clusterId }, now);
    this.#context.log.info('scheduler registered', { hostname, ip, port, clusterId, schedulerId: row.id });
    return schedulerMessage(row);
  }

  async getScheduler(request: managerv2.GetSchedulerRequest__Output): Promise<managerv2.Scheduler> {
    const hostname = requireHostname(request.hostname);
    const ip = requireIp(request.ip);
    const clusterId = optionalId(request.schedulerClusterId, 'scheduler_cluster_id');
    const row = await findScheduler(this.#db, { hostname, ip, clusterId });
    if (!row) throw new RecordNotFoundError(`scheduler ${hostname} (${ip})${clusterId ? ` in cluster ${clusterId}` : ''}`);
    const cluster = await getCluster(this.#db, row.scheduler_cluster_id);
    const seedPeers = await this.#activeSeedPeers(row.scheduler_cluster_id);
    return schedulerMessage(row, { ...(cluster && { cluster }), seedPeers });
  }

  async listSchedulers(request: managerv2.ListSchedulersRequest__Output): Promise<managerv2.ListSchedulersResponse> {
    this.#searches.inc();
    const host = {
      hostname: requireHostname(request.hostname),
      ip: requireIp(request.ip),
      idc: optionalText(request.idc, 'idc'),
      location: optionalText(request.location, 'location'),
    };
    const pinnedClusterId = optionalId(request.schedulerClusterId, 'scheduler_cluster_id');
    const candidates = (await clustersWithActiveSchedulers(this.#db)).map((row) => ({ id: row.id, isDefault: row.is_default === 1, scopes: scopesOf(row) }));
    const best = bestCluster(host, candidates, { pinnedClusterId });
    if (!best) {
      this.#searchFailures.inc();
      return { schedulers: [] };
    }
    const schedulers = await listActiveSchedulers(this.#db, best.id);
    // The cluster rides along so a peer takes its client config (load limit, piece concurrency).
    const cluster = await getCluster(this.#db, best.id);
    return { schedulers: schedulers.map((row) => schedulerMessage(row, cluster ? { cluster } : {})) };
  }

  async listApplications(request: managerv2.ListApplicationsRequest__Output): Promise<managerv2.ListApplicationsResponse> {
    // Who asks does not change the answer; checked so a broken client is told early.
    if (request.hostname) requireHostname(request.hostname);
    if (request.ip) requireIp(request.ip);
    return { applications: (await listApplications(this.#db)).map(applicationMessage) };
  }

  async updateSeedPeer(request: managerv2.UpdateSeedPeerRequest__Output): Promise<managerv2.SeedPeer> {
    const hostname = requireHostname(request.hostname);
    const ip = requireIp(request.ip);
    const port = requirePort(request.port);
    const downloadPort = requirePort(request.downloadPort, 'download_port');
    const now = this.#context.now();
    // One cluster here is both the scheduler cluster and its seed peers' cluster (the REST
    // `clusters` resource), so a seed peer cluster id is a cluster id.
    const clusterId = await clusterForScheduler(this.#db, optionalId(request.seedPeerClusterId, 'seed_peer_cluster_id'), now);
    const row = await upsertHost(
      this.#db,
      { hostId: seedHostId(ip, hostname), type: 'seed', hostname, ip, port, downloadPort, idc: optionalText(request.idc, 'idc'), location: optionalText(request.location, 'location'), clusterId },
      now,
    );
    return seedPeerMessage(row);
  }

  async deleteSeedPeer(request: managerv2.DeleteSeedPeerRequest__Output): Promise<Record<string, never>> {
    const hostId = seedHostId(requireIp(request.ip), requireHostname(request.hostname));
    const result = await this.#db.deleteFrom('hosts').where('host_id', '=', hostId).executeTakeFirst();
    if (Number(result.numDeletedRows) === 0) throw new RecordNotFoundError(`seed peer ${hostId}`);
    return {};
  }

  async #activeSeedPeers(clusterId: number): Promise<Host[]> {
    return this.#db.selectFrom('hosts').selectAll().where('scheduler_cluster_id', '=', clusterId).where('type', '=', 'seed').where('state', '=', 'active').orderBy('id').execute();
  }
}
