/**
 * `npm run bench:scheduler`: 2,000 simulated peers of one task on real AnnouncePeer streams against
 * a dfscheduler in a child process (its own core). Two phases:
 *   1. registration: peers register at a steady rate; each one's scheduling latency is the time
 *      from its RegisterPeerRequest to its first response (p50/p99 reported). A peer answered
 *      Normal starts and reports its first piece at once, so later peers have parents.
 *   2. pieces: every peer reports the rest of the task's pieces, as fast as the streams take them,
 *      then Finished; reports handled per second = reports / time until every stream ended OK.
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

const { values } = parseArgs({
  options: {
    peers: { type: 'string', default: '2000' },
    pieces: { type: 'string', default: '100' },
    'register-rate': { type: 'string', default: '1000' },
    channels: { type: 'string', default: '4' },
    'no-readme': { type: 'boolean', default: false },
  },
});
const PEERS = Number(values.peers);
const PIECES = Number(values.pieces);
const REGISTER_RATE = Number(values['register-rate']);
const CHANNELS = Number(values.channels);
const PIECE_LENGTH = 4 * 1024 * 1024;
const URL = 'http://origin.bench/model.safetensors';
const TASK_ID = taskIdOf({ url: URL });
const DEADLINE_MS = 10 * 60_000;

const definition = loadSync([...PROTO_FILES], { ...PROTO_LOADER_OPTIONS, includeDirs: [...PROTO_LOADER_OPTIONS.includeDirs] });
const proto = (grpc.loadPackageDefinition(definition) as unknown as schedulerv2.ProtoGrpcType).scheduler.v2;
const announceMethod = (definition['scheduler.v2.Scheduler'] as Record<string, grpc.MethodDefinition<schedulerv2.AnnouncePeerRequest, schedulerv2.AnnouncePeerResponse__Output>>)
  .AnnouncePeer!;
const encode = (request: schedulerv2.AnnouncePeerRequest): Buffer => announceMethod.requestSerialize(request);

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

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
    ended: new Promise((resolve) => call.on('status', resolve)),
    firstResponse: new Promise<void>((resolve) => (markFirst = resolve)),
  };
  call.on('error', () => {});
  const register = encode({ ...ids, registerPeerRequest: { download } });
  let sentAt = 0;
  call.on('data', (buffer: Buffer) => {
    if (peer.latencyMs !== undefined) return;
    peer.latencyMs = performance.now() - sentAt;
    const response = announceMethod.responseDeserialize(buffer);
    if (response.response === 'normalTaskResponse') {
      peer.parentId = response.normalTaskResponse!.candidateParents[0]?.id;
      call.write(encode({ ...ids, downloadPeerStartedRequest: {} }));
      call.write(pieceMessage(peer, 0));
    } else if (response.response === 'needBackToSourceResponse') {
      call.write(encode({ ...ids, downloadPeerBackToSourceStartedRequest: {} }));
      call.write(pieceMessage(peer, 0));
    } else {
      throw new Error(`unexpected first response ${response.response}`);
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
const latencies = peers.slice(1).map((peer) => peer.latencyMs!).sort((a, b) => a - b);
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

// Phase 2: the remaining pieces, pre-encoded, then Finished.
const batches = peers.map((peer) => {
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
peers.forEach((peer, i) => {
  for (const message of batches[i]!) peer.call.write(message);
  peer.call.end();
});
const statuses = await Promise.all(peers.map((peer) => peer.ended));
const pieceSeconds = (performance.now() - pieceStart) / 1000;
const cpuAfter = (await ask<{ usage: NodeJS.CpuUsage }>('cpu', 'cpu')).usage;
const failed = statuses.filter((status) => status.code !== grpc.status.OK);
if (failed.length > 0) throw new Error(`${failed.length} streams failed, e.g. ${failed[0]!.code} ${failed[0]!.details}`);

const reports = PEERS * (PIECES - 1);
const serverCpuSeconds = (cpuAfter.user - cpuBefore.user + cpuAfter.system - cpuBefore.system) / 1e6;
const result = {
  peers: PEERS,
  pieces: PIECES,
  registerRatePerSecond: REGISTER_RATE,
  registrationSeconds: registerSeconds,
  schedulerCpuMsPerRegistration: (registerCpuSeconds * 1000) / (PEERS - 1),
  scheduleLatencyMs: { p50: percentile(latencies, 50), p99: percentile(latencies, 99), max: latencies.at(-1)! },
  eventLoopDelayMs: { scheduler: { p99: serverLoop.p99, max: serverLoop.max }, loadGenerator: clientLoopDelay },
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
  `| scheduling latency, register -> first response, p50 | ${fmt(result.scheduleLatencyMs.p50, 2)} ms | |`,
  `| scheduling latency, register -> first response, p99 | ${fmt(result.scheduleLatencyMs.p99, 2)} ms | < 5 ms |`,
  `| scheduling latency, max | ${fmt(result.scheduleLatencyMs.max, 2)} ms | |`,
  `| event-loop delay during registration, p99 / max: scheduler | ${fmt(serverLoop.p99, 1)} / ${fmt(serverLoop.max, 1)} ms | |`,
  `| event-loop delay during registration, p99 / max: load generator | ${fmt(clientLoopDelay.p99, 1)} / ${fmt(clientLoopDelay.max, 1)} ms | |`,
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
process.exit(0);
