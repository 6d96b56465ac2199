/**
 * `npm run bench:manager`: ListSchedulers latency through the manager's real gRPC server with
 * 1,000 hosts registered (seed peers and peers in `hosts`), 10 clusters with scopes and 3 active
 * schedulers each, on node:sqlite and, with `--postgres postgres://.../<empty database>`, on
 * PostgreSQL.
 * Sequential calls from one client on loopback, after a warm-up; p50/p99/max in ms. The target is
 * p99 < 5 ms. The load average is printed beside the numbers: other work on the machine shows there.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { PROTO_FILES, PROTO_LOADER_OPTIONS, type managerv2 } from '../../api/index.ts';
import { resolveManagerConfig, startManager, type RunningManager } from '../../manager/index.ts';

const { values } = parseArgs({ options: { postgres: { type: 'string' }, hosts: { type: 'string', default: '1000' }, calls: { type: 'string', default: '3000' }, warmup: { type: 'string', default: '300' } } });
const HOSTS = Number(values.hosts);
const CALLS = Number(values.calls);
const WARMUP = Number(values.warmup);
const CLUSTERS = 10;
const SCHEDULERS_PER_CLUSTER = 3;

async function seed(manager: RunningManager): Promise<void> {
  const db = manager.context.store.db;
  const now = Date.now();
  for (let c = 0; c < CLUSTERS; c++) {
    const scopes = { idc: `idc-${c}`, location: `cn|r${c}`, cidrs: [`10.${c}.0.0/16`], hostnames: [`^node-${c}-`] };
    const cluster = await db
      .insertInto('scheduler_clusters')
      .values({ name: `bench-${c}`, bio: null, config: '{"candidate_parent_limit":3,"filter_parent_limit":15}', client_config: '{}', seed_client_config: '{}', scopes: JSON.stringify(scopes), is_default: 0, created_at: now, updated_at: now })
      .returning('id')
      .executeTakeFirstOrThrow();
    for (let s = 0; s < SCHEDULERS_PER_CLUSTER; s++) {
      await db
        .insertInto('schedulers')
        .values({ hostname: `sched-${c}-${s}`, ip: `10.${c}.255.${s + 1}`, port: 8002, idc: `idc-${c}`, location: null, state: 'active', features: '["schedule"]', scheduler_cluster_id: cluster.id, last_keepalive_at: now, created_at: now, updated_at: now })
        .execute();
    }
    const rows = [];
    for (let h = c; h < HOSTS; h += CLUSTERS) {
      rows.push({ host_id: `10.${c}.${h >> 8}.${h & 255}-node-${c}-${h}`, type: h % 20 === 0 ? 'seed' : 'normal', hostname: `node-${c}-${h}`, ip: `10.${c}.${h >> 8}.${h & 255}`, port: 4000, download_port: 4005, idc: `idc-${c}`, location: null, version: null, scheduler_cluster_id: cluster.id, state: 'active', stats: '{}', first_seen_at: now, last_seen_at: now });
    }
    if (rows.length > 0) await db.insertInto('hosts').values(rows).execute();
  }
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

async function measure(name: string, url: string, dataDir: string): Promise<string> {
  const config = resolveManagerConfig({
    server: { rest: { listenIP: '127.0.0.1', port: 0 }, grpc: { listenIP: '127.0.0.1', port: 0 }, dataDir },
    database: { url },
    auth: { rootPassword: 'bench-root-password' },
    // The schedulers are rows, not streams: a long timeout keeps the sweep from ending them.
    keepAlive: { timeout: '1h' },
    log: { level: 'error' },
  });
  const manager = await startManager(config);
  try {
    await seed(manager);
    const definition = loadSync([...PROTO_FILES], { ...PROTO_LOADER_OPTIONS, includeDirs: [...PROTO_LOADER_OPTIONS.includeDirs] });
    const { Manager } = (grpc.loadPackageDefinition(definition) as unknown as managerv2.ProtoGrpcType).manager.v2;
    const client = new Manager(`127.0.0.1:${manager.grpcPort}`, grpc.credentials.createInsecure());
    const call = (i: number) =>
      new Promise<number>((resolve, reject) => {
        const c = i % CLUSTERS;
        const h = i % HOSTS;
        const started = performance.now();
        client.listSchedulers(
          { sourceType: 'PEER_SOURCE', hostname: `node-${c}-${h}`, ip: `10.${c}.${h >> 8}.${h & 255}`, idc: `idc-${c}`, location: `cn|r${c}|x` },
          { deadline: Date.now() + 5_000 },
          (error, answer) => {
            if (error) return reject(error);
            if ((answer?.schedulers?.length ?? 0) !== SCHEDULERS_PER_CLUSTER) return reject(new Error(`host ${i}: expected ${SCHEDULERS_PER_CLUSTER} schedulers, got ${answer?.schedulers?.length}`));
            resolve(performance.now() - started);
          },
        );
      });
    try {
      for (let i = 0; i < WARMUP; i++) await call(i);
      const times: number[] = [];
      for (let i = 0; i < CALLS; i++) times.push(await call(i));
      times.sort((a, b) => a - b);
      const load = loadavg().map((value) => value.toFixed(2)).join(' ');
      return `${name.padEnd(10)} hosts=${HOSTS} calls=${CALLS} p50=${percentile(times, 50).toFixed(2)}ms p99=${percentile(times, 99).toFixed(2)}ms max=${times.at(-1)!.toFixed(2)}ms (loadavg ${load})`;
    } finally {
      client.close();
    }
  } finally {
    await manager.close();
  }
}

const dir = await mkdtemp(join(tmpdir(), 'df-bench-manager-'));
const lines: string[] = [];
try {
  lines.push(await measure('sqlite', 'sqlite:bench.db', dir));
  console.log(lines.at(-1));
  if (values.postgres === undefined) console.log('postgresql skipped: pass --postgres postgres://user@host:port/<empty database>');
  else {
    lines.push(await measure('postgresql', values.postgres, dir));
    console.log(lines.at(-1));
  }
} finally {
  await rm(dir, { recursive: true, force: true });
}
