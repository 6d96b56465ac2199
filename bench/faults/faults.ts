/**
 * The faults of the matrix, as data: what each changes in the cluster before the launch, what it
 * does when the peers are `at` along (their links' received bytes, as bench/swarm/disrupt.ts
 * counts them), which peers it hits and what is then expected of them, and the checks of its own.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { pieceLengthOf } from '../../api/index.ts';
import { chooseVictims } from '../swarm/disrupt.ts';
import { execInHost } from '../swarm/hosts.ts';
import type { LinkCounters } from '../swarm/netns.ts';
import { metricsOf } from '../swarm/p2p.ts';
import type { SwarmContext } from '../swarm/system.ts';
import type { ClusterPlan, DaemonHandle, FaultCluster } from './cluster.ts';
import { applyNetem, netemProblem } from './netem.ts';

/**
 * What a hit peer must do. `killed`: nothing (it is gone). `finishes`: it still ends with the file
 * (a stalled or restarted daemon). `fails-clean`: its dfget fails with an error and nothing at its
 * output. `abandoned`: its dfget is stopped once every other peer is done (a parent stalled for good).
 */
export type Expectation = 'killed' | 'finishes' | 'fails-clean' | 'abandoned';

export interface FaultOptions {
  /** Overrides every fault's own point, when given. */
  readonly atFraction: number | undefined;
  /** How long a stall or an origin fault lasts; 0: a stalled parent never comes back. */
  readonly faultMs: number;
  /** How long a killed scheduler or daemon stays down before it is started again. */
  readonly restartAfterMs: number;
  /** netem's parameters on every host's egress. */
  readonly netem: string;
}

/** One check of a fault's own (e.g. the restarted daemon reused its pieces). */
export interface FaultCheck {
  readonly name: string;
  readonly ok: boolean;
  readonly detail: string;
}

/** What a fault works with while the cell runs. */
export interface FaultEnv {
  readonly ctx: SwarmContext;
  readonly cluster: FaultCluster;
  readonly options: FaultOptions;
  /** Peers the fault hit, and what is expected of them. */
  readonly victims: Map<number, Expectation>;
  /** A peer whose dfget fails meanwhile runs it again once this settles (its daemon restarted). */
  readonly retries: Map<number, Promise<void>>;
  /** SIGKILLs peer `index`'s running dfget (by its process group). */
  abortPeer(index: number): void;
  /** A time-stamped line for the report and the log. */
  event(what: string): void;
  /** Link counters at the launch and at the trigger. */
  readonly before: readonly LinkCounters[];
  readonly atTrigger: () => readonly LinkCounters[] | undefined;
  /** State a fault keeps between inject and check. */
  readonly memo: Record<string, unknown>;
  /** Follow-ups still running (a SIGCONT, a restart): awaited before the cell ends. */
  readonly followUps: Promise<unknown>[];
}

export interface FaultSpec {
  readonly name: string;
  /** One line for --help and the table's legend. */
  readonly summary: string;
  /** Its point: the peers' received fraction (for disk-full, the tmpfs size over the file's). */
  readonly defaultAt: number;
  /** Whether the survivors' max counts against the 1.5 x undisturbed target. */
  readonly maxTarget: boolean;
  /** Why it cannot run here, if it cannot. */
  unavailable?(): string | undefined;
  plan?(ctx: SwarmContext, at: number, memo: Record<string, unknown>): ClusterPlan;
  /** Victims known at the launch. */
  victimsAtLaunch?(memo: Record<string, unknown>): ReadonlyMap<number, Expectation>;
  /** Called once, when the peers are `at` along (at once for 0). */
  inject?(env: FaultEnv): Promise<void>;
  /** After every client ended, before the cluster stops. */
  check?(env: FaultEnv): Promise<FaultCheck[]>;
  /** Undoes what outlives the cluster (e.g. qdiscs on the shared hosts). */
  revert?(env: FaultEnv): Promise<void>;
}

const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;
const randomPeer = (ctx: SwarmContext) => chooseVictims(ctx.peers.length, 1)[0]!;

async function downloadedBytes(daemon: DaemonHandle): Promise<number> {
  const samples = await metricsOf(daemon);
  return (samples.get('dragonfly_client_download_traffic{type="back_to_source"}') ?? 0) + (samples.get('dragonfly_client_download_traffic{type="remote_peer"}') ?? 0);
}

/** A fault proxy's `fault` lines: requests it broke. */
const brokenBy = (cluster: FaultCluster) => cluster.proxy?.lines.filter((line) => line.msg === 'fault').length ?? 0;

function originFault(kind: '5xx' | 'reset' | 'stall', summary: string): FaultSpec {
  return {
    name: `origin-${kind}`,
    summary,
    defaultAt: 0.1,
    maxTarget: false,
    plan: () => ({ originFault: kind }),
    async inject(env) {
      env.cluster.proxyOn();
      env.event(`origin ${kind} on for ${env.options.faultMs / 1000} s`);
      env.followUps.push(
        sleep(env.options.faultMs, undefined, { signal: env.ctx.signal }).then(() => {
          env.cluster.proxyOff();
          env.event(`origin ${kind} off`);
        }),
      );
    },
    async check(env) {
      return [{ name: 'origin fault hit requests', ok: brokenBy(env.cluster) > 0, detail: `${brokenBy(env.cluster)} origin requests broken (${kind})` }];
    },
  };
}

export const FAULTS: readonly FaultSpec[] = [
  {
    name: 'corrupt-parent',
    summary: "one random peer's piece server is fronted by a proxy that flips a byte in every piece body it sends (headers and digest unchanged), from `at` on",
    defaultAt: 0.05,
    maxTarget: false,
    plan(ctx, _at, memo) {
      memo['peer'] = randomPeer(ctx);
      return { corruptPeer: memo['peer'] as number };
    },
    async inject(env) {
      env.cluster.proxyOn();
      env.event(`${env.ctx.peers[env.memo['peer'] as number]!.name} now sends corrupt pieces`);
    },
    async check(env) {
      const corrupted = brokenBy(env.cluster);
      const mismatches = await Promise.all([env.cluster.seed, ...env.cluster.peers].map((d) => metricsOf(d).then((m) => m.get('dragonfly_client_piece_digest_mismatch_total') ?? 0, () => 0)));
      const caught = mismatches.reduce((a, b) => a + b, 0);
      return [{ name: 'corrupt pieces caught', ok: caught >= corrupted, detail: `${corrupted} corrupt piece bodies sent, ${caught} digest mismatches counted by the children` }];
    },
  },
  {
    name: 'kill-peers',
    summary: '25% of the peers (at least 1) SIGKILLed, daemon and dfget, all at once',
    defaultAt: 0.4,
    maxTarget: true,
    async inject(env) {
      const victims = chooseVictims(env.ctx.peers.length, Math.max(1, Math.round(env.ctx.peers.length / 4)));
      for (const i of victims) env.victims.set(i, 'killed');
      await Promise.all(victims.map((i) => env.cluster.kill(env.cluster.peers[i]!.proc)));
      for (const i of victims) env.abortPeer(i);
      env.event(`SIGKILLed ${victims.map((i) => env.ctx.peers[i]!.name).join(', ')}`);
    },
  },
  {
    name: 'stall-parent',
    summary: 'the peer that uploaded most so far is SIGSTOPped (sockets open, nothing moves), SIGCONTed after --fault-seconds (0: never)',
    defaultAt: 0.3,
    maxTarget: true,
    async inject(env) {
      const now = env.atTrigger() ?? env.before;
      const sent = env.ctx.peers.map((peer) => {
        const h = env.ctx.topology.hosts.findIndex((host) => host.netns === peer.netns);
        return now[h]!.txBytes - env.before[h]!.txBytes;
      });
      const index = sent.indexOf(Math.max(...sent));
      const daemon = env.cluster.peers[index]!;
      env.victims.set(index, env.options.faultMs > 0 ? 'finishes' : 'abandoned');
      env.cluster.pause(daemon);
      env.event(`SIGSTOPped ${daemon.name}'s dfdaemon (it had sent ${mib(sent[index]!)})`);
      if (env.options.faultMs > 0) {
        env.followUps.push(
          sleep(env.options.faultMs, undefined, { signal: env.ctx.signal }).then(() => {
            env.cluster.resume(daemon);
            env.event(`SIGCONTed ${daemon.name}'s dfdaemon`);
          }),
        );
      }
    },
  },
  {
    name: 'scheduler-kill',
    summary: 'the dfscheduler SIGKILLed, started again (same config) after --restart-after',
    defaultAt: 0.3,
    maxTarget: true,
    async inject(env) {
      await env.cluster.kill(env.cluster.scheduler());
      env.event('SIGKILLed the dfscheduler');
      env.followUps.push(
        sleep(env.options.restartAfterMs, undefined, { signal: env.ctx.signal })
          .then(() => env.cluster.restartScheduler())
          .then(() => env.event('dfscheduler started again')),
      );
    },
  },
  {
    name: 'seed-kill',
    summary: 'the seed peer SIGKILLed for good',
    defaultAt: 0.3,
    maxTarget: true,
    async inject(env) {
      await env.cluster.kill(env.cluster.seed.proc);
      env.event('SIGKILLed the seed peer');
    },
  },
  originFault('5xx', 'the origin answers 503 to every request for --fault-seconds (a proxy in front of nginx)'),
  originFault('reset', 'the origin resets every connection, those under way too, for --fault-seconds'),
  originFault('stall', 'the origin stops sending (connections open) and answers nothing new for --fault-seconds, then goes on'),
  {
    name: 'daemon-restart',
    summary: "a random peer's dfdaemon SIGKILLed, started again on the same storage after --restart-after; its dfget is run again (daemons with storage.keep: true, else a restart wipes the store, Dragonfly's default)",
    defaultAt: 0.5,
    maxTarget: false,
    plan: () => ({ everyDaemon: { storage: { keep: true } } }),
    async inject(env) {
      const index = randomPeer(env.ctx);
      const daemon = env.cluster.peers[index]!;
      env.victims.set(index, 'finishes');
      env.memo['peer'] = index;
      env.memo['bytesBefore'] = await downloadedBytes(daemon).catch(() => undefined);
      let restarted!: () => void;
      env.retries.set(index, new Promise<void>((resolve) => (restarted = resolve)));
      await env.cluster.kill(daemon.proc);
      env.event(`SIGKILLed ${daemon.name}'s dfdaemon (${env.memo['bytesBefore'] === undefined ? '?' : mib(env.memo['bytesBefore'] as number)} downloaded)`);
      env.followUps.push(
        sleep(env.options.restartAfterMs, undefined, { signal: env.ctx.signal })
          .then(() => env.cluster.restartDaemon(daemon))
          .then(() => env.event(`${daemon.name}'s dfdaemon started again; its dfget runs again`))
          .finally(() => restarted()),
      );
    },
    async check(env) {
      const index = env.memo['peer'] as number | undefined;
      if (index === undefined) return [{ name: 'restart', ok: false, detail: 'the peers were done before the trigger: nothing was restarted' }];
      const daemon = env.cluster.peers[index]!;
      const before = env.memo['bytesBefore'] as number | undefined;
      const finished = daemon.proc.lines.find((line) => line.msg === 'download finished');
      const resumed = typeof finished?.['resumedBytes'] === 'number' ? finished['resumedBytes'] : undefined;
      const after = await downloadedBytes(daemon).catch(() => undefined);
      const ok = before !== undefined && resumed !== undefined && resumed >= before;
      return [
        {
          name: 'finished pieces not fetched again',
          ok,
          detail: `${daemon.name}: ${before === undefined ? '?' : mib(before)} downloaded before the kill, ${resumed === undefined ? 'no download finished line' : `${mib(resumed)} resumed from its store`}, ${after === undefined ? '?' : mib(after)} fetched after the restart (file ${mib(env.ctx.file.sizeBytes)})`,
        },
      ];
    },
  },
  {
    name: 'disk-full',
    summary: "a random peer's storage dir is a tmpfs of `at` x the file: its dfget must fail cleanly, nothing at its output, its daemon still serving what it has",
    defaultAt: 0.5,
    maxTarget: false,
    plan(ctx, at, memo) {
      memo['peer'] = randomPeer(ctx);
      return { smallDisk: { peer: memo['peer'] as number, bytes: Math.floor(at * ctx.file.sizeBytes) } };
    },
    victimsAtLaunch: (memo) => new Map([[memo['peer'] as number, 'fails-clean']]),
    async check(env) {
      const daemon = env.cluster.peers[env.memo['peer'] as number]!;
      const started = daemon.proc.lines.find((line) => line.msg === 'download started');
      const failed = daemon.proc.lines.find((line) => line.msg === 'download failed');
      const taskId = String(started?.['taskId'] ?? '');
      const pieceCount = Math.ceil(env.ctx.file.sizeBytes / pieceLengthOf(env.ctx.file.sizeBytes));
      let served = 0;
      if (daemon.proc.running && /^[0-9a-f]{64}$/.test(taskId)) {
        for (let n = 0; n < pieceCount; n++) {
          const code = await execInHost(daemon.host, 'curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', '--max-time', '5', `http://${daemon.host.ip}:4005/pieces/${taskId}/${n}`]).catch(() => '');
          if (code.trim() === '200') served++;
        }
      }
      const error = failed?.['error'] as { message?: string; code?: string } | undefined;
      return [
        { name: 'daemon alive after its disk filled', ok: daemon.proc.running, detail: `${daemon.name}'s dfdaemon ${daemon.proc.running ? 'still runs' : 'exited'}; its log: ${error ? `download failed: ${error.code ?? ''} ${error.message ?? ''}`.trim() : 'no download failed line'}` },
        { name: 'still serves what it has', ok: served > 0, detail: `${served} of ${pieceCount} pieces answered 200 from its piece server after the failure` },
      ];
    },
  },
  {
    name: 'netem',
    summary: 'packet loss and delay (--netem, default "delay 20ms 5ms loss 0.5%") on every host\'s egress, under its rate limit, from `at` on',
    defaultAt: 0,
    maxTarget: false,
    unavailable: netemProblem,
    async inject(env) {
      await applyNetem(env.ctx.topology, env.options.netem, true);
      env.event(`netem ${env.options.netem} on every host`);
    },
    async revert(env) {
      await applyNetem(env.ctx.topology, env.options.netem, false);
    },
  },
];

export const FAULT_NAMES: readonly string[] = FAULTS.map((f) => f.name);

export function faultNamed(name: string): FaultSpec | undefined {
  return FAULTS.find((f) => f.name === name);
}
