/**
 * `npm run bench:scheduler`: 2,000 (`--peers`) simulated peers of one task on real AnnouncePeer streams against
 * a dfscheduler in a child process (its own core). Two phases:
 *   1. registration: peers register at a steady rate; each one's scheduling latency is the time
 *      from its RegisterPeerRequest to its first response (p50/p90/p99/max reported). A peer answered
 *      Normal starts and reports its first piece at once, so later peers have parents.
 *   2. pieces: every peer reports the rest of the task's pieces, as fast as the streams take them,
 *      then Finished; reports handled per second = reports / time until every stream ended OK,
 *      and per peer the time until its stream ended OK (all its reports handled).
 * Errors are counted, not thrown: `--help` lists them.
 * Piece messages are encoded before phase 2 so that the load generator is not the bottleneck.
 * Prints the numbers and writes them into bench/scheduler/README.md.
 */
import { fork } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { PROTO_FILES, PROTO_LOADER_OPTIONS, taskIdOf, type schedulerv2 } from '../../api/index.ts';
import { percentile } from '../lib/format.ts';

/** A registration not answered within this is counted as an error (and its peer sits out phase 2). */
const REGISTER_ANSWER_TIMEOUT_MS = 30_000;

const USAGE = `Usage: npm run bench:scheduler -- [--peers 2000] [--pieces 100] [--register-rate 1000]
                                   [--channels 4] [--no-readme]

  --peers N          simulated peers of one task, each on its own host and AnnouncePeer stream
                     (default 2000; up to 65536)
  --pieces N         pieces of the task; every peer reports all of them, then Finished (default 100)
  --register-rate N  registrations per second in phase 1 (default 1000)
  --channels N       HTTP/2 channels the peers' streams share (default 4)
  --no-readme        print the results only; without it they replace the table in
                     bench/scheduler/README.md

Errors (streams not ended OK, registrations unanswered within 30 s,
first answers of an unexpected kind) are counted and printed, not thrown; the exit status is 1
when there was any.
BENCH_SCHEDULER_NODE_OPTIONS passes flags to the scheduler's Node; BENCH_DEBUG=1 prints more.
`;

function parseCount(name: string, text: string, min: number, max: number): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    console.error(`bench:scheduler: --${name} must be an integer from ${min} to ${max}, got ${text}\n\n${USAGE}`);
    process.exit(2);
  }
  return n;
}

let parsed;
try {
  parsed = parseArgs({
    strict: true,
    options: {
      peers: { type: 'string', default: '2000' },
      pieces: { type: 'string', default: '100' },
      'register-rate': { type: 'string', default: '1000' },
      channels: { type: 'string', default: '4' },
      'no-readme': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
} catch (error) {
  console.error(`bench:scheduler: ${(error as Error).message}\n\n${USAGE}`);
  process.exit(2);
}
const { values } = parsed;
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}
// Host ids and IPs are made from two bytes of the index (see hostOf).
const PEERS = parseCount('peers', values.peers, 2, 65_536);
const PIECES = parseCount('pieces', values.pieces, 2, 10_000);
const REGISTER_RATE = parseCount('register-rate', values['register-rate'], 1, 100_000);
const CHANNELS = parseCount('channels', values.channels, 1, 64);
const PIECE_LENGTH = 4 * 1024 * 1024;
const URL = 'http://origin.bench/model.safetensors';
const TASK_ID = taskIdOf({ url: URL });
const DEADLINE_MS = 10 * 60_000;

const definition = loadSync([...PROTO_FILES], { ...PROTO_LOADER_OPTIONS, includeDirs: [...PROTO_LOADER_OPTIONS.includeDirs] });
const proto = (grpc.loadPackageDefinition(definition) as unknown as schedulerv2.ProtoGrpcType).scheduler.v2;
const announceMethod = (definition['scheduler.v2.Scheduler'] as Record<string, grpc.MethodDefinition<schedulerv2.AnnouncePeerRequest, schedulerv2.AnnouncePeerResponse__Output>>)
  .AnnouncePeer!;
const encode = (request: schedulerv2.AnnouncePeerRequest): Buffer => announceMethod.requestSerialize(request);


// BENCH_SCHEDULER_NODE_OPTIONS passes flags to the scheduler's Node (e.g. --cpu-prof, --trace-gc).
const child = fork(join(import.meta.dirname, 'server.ts'), {
  stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  execArgv: (process.env.BENCH_SCHEDULER_NODE_OPTIONS ?? '').split(' ').filter(Boolean),
});
const killer = setTimeout(() => {
  console.error(`bench:scheduler: no result within ${DEADLINE_MS / 1000} s`);
  child.kill('SIGKILL');
  process.exit(1);
}, DEADLINE_MS);
killer.unref();
process.once('SIGINT', () => {
  child.kill('SIGKILL');
  process.exit(130);
});

const ask = <T>(type: string, answer: string) =>
  new Promise<T>((resolve) => {
    const onMessage = (message: { type: string } & T) => {
      if (message.type !== answer) return;
      child.off('message', onMessage);
      resolve(message);
    };
    child.on('message', onMessage);
    if (type) child.send({ type });
  });

const { port, metricsPort } = await ask<{ port: number; metricsPort: number }>('', 'ready');
const address = `127.0.0.1:${port}`;
const clients = Array.from({ length: CHANNELS }, (_, i) => new proto.Scheduler(address, grpc.credentials.createInsecure(), { 'grpc.bench_channel': i }));

// Setup: one host per peer, so that no peer is excluded as a parent for sharing a host.
const hostOf = (i: number) => `10.${(i >> 8) & 255}.${i & 255}.1-bench-${i}`;
for (let start = 0; start < PEERS; start += 200) {
  await Promise.all(
    Array.from({ length: Math.min(200, PEERS - start) }, (_, k) => {
      const i = start + k;
      return new Promise<void>((resolve, reject) =>
        clients[i % CHANNELS]!.AnnounceHost(
          {
            host: { id: hostOf(i), hostname: `bench-${i}`, ip: `10.${(i >> 8) & 255}.${i & 255}.1`, port: 4000, downloadPort: 4005, network: { maxTxBandwidth: 10e9 } },
            intervalMs: 300_000,
          },
          (error) => (error ? reject(error) : resolve()),
        ),
      );
    }),
  );
}

interface SimPeer {
  readonly index: number;
  readonly ids: { hostId: string; taskId: string; peerId: string };
  call: grpc.ClientDuplexStream<Buffer, Buffer>;
  parentId?: string;
  latencyMs?: number;
  /** Why the first answer did not count: unexpected kind, or none within the timeout. */
  firstError?: string;
  /** When the stream ended, performance.now(). */
  endedAt?: number;
  ended: Promise<grpc.StatusObject>;
  firstResponse: Promise<void>;
}

const download = { url: URL, priority: 'LEVEL6' as const, actualContentLength: PIECES * PIECE_LENGTH, actualPieceLength: PIECE_LENGTH, actualPieceCount: PIECES };

/**
 * Opens a peer's stream and registers it. Requests are encoded before the clock starts and the
 * response is decoded after it stops: the latency is the scheduler's and the transport's.
 */
function open(index: number): SimPeer {
  const ids = { hostId: hostOf(index), taskId: TASK_ID, peerId: `${hostOf(index)}-peer` };
  const call = clients[index % CHANNELS]!.makeBidiStreamRequest(
    '/scheduler.v2.Scheduler/AnnouncePeer',
    (buffer: Buffer) => buffer,
    (buffer: Buffer) => buffer,
  );
  let markFirst: () => void = () => {};
  const peer: SimPeer = {
    index,
    ids,
    call,
    ended: new Promise((resolve) =>
      call.on('status', (status: grpc.StatusObject) => {
        peer.endedAt = performance.now();
        resolve(status);
      }),
    ),
    firstResponse: new Promise<void>((resolve) => (markFirst = resolve)),
  };
  // A stream that ends (or never answers) before its first response settles it as an error.
  void peer.ended.then((status) => {
    if (peer.latencyMs === undefined) peer.firstError ??= `stream ended before an answer: ${status.code} ${status.details}`;
    markFirst();
  });
  const timer = setTimeout(() => {
    peer.firstError ??= `no answer within ${REGISTER_ANSWER_TIMEOUT_MS / 1000} s`;
    markFirst();
  }, REGISTER_ANSWER_TIMEOUT_MS);
  call.on('error', () => {});
  const register = encode({ ...ids, registerPeerRequest: { download } });
  let sentAt = 0;
  call.on('data', (buffer: Buffer) => {
    if (peer.latencyMs !== undefined || peer.firstError !== undefined) return;
    peer.latencyMs = performance.now() - sentAt;
    clearTimeout(timer);
    const response = announceMethod.responseDeserialize(buffer);
    if (response.response === 'normalTaskResponse') {
      peer.parentId = response.normalTaskResponse!.candidateParents[0]?.id;
      call.write(encode({ ...ids, downloadPeerStartedRequest: {} }));
      call.write(pieceMessage(peer, 0));
    } else if (response.response === 'needBackToSourceResponse') {
      call.write(encode({ ...ids, downloadPeerBackToSourceStartedRequest: {} }));
      call.write(pieceMessage(peer, 0));
    } else {
      peer.firstError = `unexpected first response ${response.response}`;
      peer.latencyMs = undefined;
    }
    markFirst();
  });
  sentAt = performance.now();
  call.write(register);
  return peer;
}

function pieceMessage(peer: SimPeer, number: number): Buffer {
  const piece = { number, offset: number * PIECE_LENGTH, length: PIECE_LENGTH, digest: 'crc32:1475635037', costMs: 10 + ((number * 7 + peer.index) % 10), createdAtMs: Date.now() };
  return peer.parentId === undefined
    ? encode({ ...peer.ids, downloadPieceBackToSourceFinishedRequest: { piece: { ...piece, trafficType: 'BACK_TO_SOURCE' } } })
    : encode({ ...peer.ids, downloadPieceFinishedRequest: { piece: { ...piece, parentId: peer.parentId, trafficType: 'REMOTE_PEER' } } });
}

// Phase 1: registrations at a steady rate.
const clientLoop = monitorEventLoopDelay({ resolution: 1 });
clientLoop.enable();
await ask<object>('loop', 'loop');
const registerCpuBefore = (await ask<{ usage: NodeJS.CpuUsage }>('cpu', 'cpu')).usage;
const peers: SimPeer[] = [open(0)];
await peers[0]!.firstResponse;
const registerStart = performance.now();
const intervalMs = 5;
const perTick = Math.max(1, Math.round((REGISTER_RATE * intervalMs) / 1000));
for (let next = 1; next < PEERS; ) {
  for (let k = 0; k < perTick && next < PEERS; k++) peers.push(open(next++));
  await new Promise((resolve) => setTimeout(resolve, intervalMs));
}
await Promise.all(peers.map((peer) => peer.firstResponse));
const registerSeconds = (performance.now() - registerStart) / 1000;
const answered = peers.filter((peer) => peer.firstError === undefined && peer.latencyMs !== undefined);
const registerErrors = peers.filter((peer) => peer.firstError !== undefined);
const latencies = answered.filter((peer) => peer.index !== 0).map((peer) => peer.latencyMs!).sort((a, b) => a - b);
const registerCpuAfter = (await ask<{ usage: NodeJS.CpuUsage }>('cpu', 'cpu')).usage;
const registerCpuSeconds = (registerCpuAfter.user - registerCpuBefore.user + registerCpuAfter.system - registerCpuBefore.system) / 1e6;
const serverLoop = await ask<{ p99: number; max: number }>('loop', 'loop');
const clientLoopDelay = { p99: clientLoop.percentile(99) / 1e6, max: clientLoop.max / 1e6 };
clientLoop.disable();
if (process.env.BENCH_DEBUG) {
  const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  console.error(text.split('\n').filter((line) => line.startsWith('dragonfly_scheduler_schedule_duration')).join('\n'));
  console.error('latency percentiles 10..90,95,99:', [10, 20, 30, 40, 50, 60, 70, 80, 90, 95, 99].map((p) => percentile(latencies, p).toFixed(2)).join(' '));
}
for (const peer of registerErrors) peer.call.cancel();

// Phase 2: the remaining pieces, pre-encoded, then Finished; only peers whose registration was answered.
const batches = answered.map((peer) => {
  const messages: Buffer[] = [];
  for (let n = 1; n < PIECES; n++) messages.push(pieceMessage(peer, n));
  messages.push(
    peer.parentId === undefined
      ? encode({ ...peer.ids, downloadPeerBackToSourceFinishedRequest: { contentLength: PIECES * PIECE_LENGTH, pieceCount: PIECES } })
      : encode({ ...peer.ids, downloadPeerFinishedRequest: { contentLength: PIECES * PIECE_LENGTH, pieceCount: PIECES } }),
  );
  return messages;
});
const cpuBefore = (await ask<{ usage: NodeJS.CpuUsage }>('cpu', 'cpu')).usage;
const pieceStart = performance.now();
answered.forEach((peer, i) => {
  for (const message of batches[i]!) peer.call.write(message);
  peer.call.end();
});
const statuses = await Promise.all(answered.map((peer) => peer.ended));
const pieceSeconds = (performance.now() - pieceStart) / 1000;
const { usage: cpuAfter, maxRssBytes: schedulerMaxRssBytes } = await ask<{ usage: NodeJS.CpuUsage; maxRssBytes: number }>('cpu', 'cpu');
const failed = statuses.filter((status) => status.code !== grpc.status.OK);
// No per-report answer exists on the wire: a stream ends OK only once the scheduler has handled
// every report before its Finished, so "all of a peer's reports handled" is read at its end.
const completions = answered
  .filter((_, i) => statuses[i]!.code === grpc.status.OK)
  .map((peer) => peer.endedAt! - pieceStart)
  .sort((a, b) => a - b);

const reports = answered.length * (PIECES - 1);
const serverCpuSeconds = (cpuAfter.user - cpuBefore.user + cpuAfter.system - cpuBefore.system) / 1e6;
const spread = (sorted: number[]) => ({ p50: percentile(sorted, 50), p90: percentile(sorted, 90), p99: percentile(sorted, 99), max: sorted.at(-1) ?? Number.NaN });
const result = {
  peers: PEERS,
  pieces: PIECES,
  registerRatePerSecond: REGISTER_RATE,
  registrationSeconds: registerSeconds,
  errors: {
    registrations: registerErrors.length,
    registrationExamples: registerErrors.slice(0, 3).map((peer) => peer.firstError),
    streams: failed.length,
    streamExamples: failed.slice(0, 3).map((status) => `${status.code} ${status.details}`),
  },
  schedulerCpuMsPerRegistration: (registerCpuSeconds * 1000) / (PEERS - 1),
  scheduleLatencyMs: spread(latencies),
  streamCompletionMs: spread(completions),
  eventLoopDelayMs: { scheduler: { p99: serverLoop.p99, max: serverLoop.max }, loadGenerator: clientLoopDelay },
  peakRssMiB: { scheduler: schedulerMaxRssBytes / 2 ** 20, loadGenerator: process.resourceUsage().maxRSS / 1024 },
  loadAverage: loadavg()[0]!,
  pieceReports: reports,
  pieceSeconds,
  reportsPerSecond: reports / pieceSeconds,
  schedulerCpuSeconds: serverCpuSeconds,
  reportsPerSchedulerCpuSecond: reports / serverCpuSeconds,
};

child.send({ type: 'stop' });
for (const client of clients) client.close();

const fmt = (n: number, digits = 0) => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
const date = new Date().toISOString().slice(0, 10);
const machine = `${availableParallelism()} cpus (${cpus()[0]?.model ?? '?'}), node ${process.version}`;
const lines = [
  `Measured ${date} on ${machine} with \`npm run bench:scheduler\` (${PEERS} peers, ${PIECES} pieces each, registrations at ${REGISTER_RATE}/s, ${CHANNELS} channels):`,
  '',
  '| measure | value | target |',
  '|---|---|---|',
  `| piece reports handled per second (${fmt(reports)} reports, wall clock) | ${fmt(result.reportsPerSecond)} | >= 20,000 |`,
  `| piece reports per second of scheduler CPU | ${fmt(result.reportsPerSchedulerCpuSecond)} | |`,
  `| scheduler CPU during the piece phase | ${fmt(serverCpuSeconds, 2)} s over ${fmt(pieceSeconds, 2)} s (${fmt((100 * serverCpuSeconds) / pieceSeconds)}% of one core) | |`,
  `| scheduler CPU per registration (stream, register, answer, started, first piece) | ${fmt(result.schedulerCpuMsPerRegistration, 3)} ms | |`,
  `| errors: registrations unanswered or answered wrongly / streams not ended OK | ${fmt(registerErrors.length)} of ${fmt(PEERS)} / ${fmt(failed.length)} of ${fmt(answered.length)} | 0 / 0 |`,
  `| scheduling latency, register -> first response, p50 / p90 | ${fmt(result.scheduleLatencyMs.p50, 2)} / ${fmt(result.scheduleLatencyMs.p90, 2)} ms | |`,
  `| scheduling latency, register -> first response, p99 | ${fmt(result.scheduleLatencyMs.p99, 2)} ms | < 5 ms |`,
  `| scheduling latency, max | ${fmt(result.scheduleLatencyMs.max, 2)} ms | |`,
  `| piece phase start -> a peer's reports all handled (stream OK), p50 / p90 / p99 / max | ${['p50', 'p90', 'p99', 'max'].map((k) => fmt(result.streamCompletionMs[k as 'p50'] / 1000, 2)).join(' / ')} s | |`,
  `| event-loop delay during registration, p99 / max: scheduler | ${fmt(serverLoop.p99, 1)} / ${fmt(serverLoop.max, 1)} ms | |`,
  `| event-loop delay during registration, p99 / max: load generator | ${fmt(clientLoopDelay.p99, 1)} / ${fmt(clientLoopDelay.max, 1)} ms | |`,
  `| peak RSS: scheduler / load generator | ${fmt(result.peakRssMiB.scheduler)} / ${fmt(result.peakRssMiB.loadGenerator)} MiB | |`,
  `| 1-minute load average at the end (other work on the machine included) | ${fmt(result.loadAverage, 2)} | |`,
];
console.log(lines.join('\n'));
console.log(JSON.stringify(result));

if (!values['no-readme']) {
  const readme = join(import.meta.dirname, 'README.md');
  const START = '<!-- bench:scheduler:results:start -->';
  const END = '<!-- bench:scheduler:results:end -->';
  const text = readFileSync(readme, 'utf8');
  const from = text.indexOf(START);
  const to = text.indexOf(END);
  if (from >= 0 && to > from) writeFileSync(readme, `${text.slice(0, from + START.length)}\n${lines.join('\n')}\n${text.slice(to)}`);
}
if (registerErrors.length > 0 || failed.length > 0) {
  console.error(`bench:scheduler: ${registerErrors.length} registrations and ${failed.length} streams failed, e.g. ${result.errors.registrationExamples[0] ?? result.errors.streamExamples[0]}`);
  process.exit(1);
}
process.exit(0);
