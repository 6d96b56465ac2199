/**
 * Part 2, the CPU a server spends per GiB it sends: the same file (a) from nginx with sendfile and
 * (b) from one dfdaemon's piece server (`GET /pieces/<taskId>/<n>`), fetched piece by piece by the
 * same client, one curl over one keep-alive connection (nginx gets the same pieces as Range
 * requests), so the client's cost is the same on both sides and does not count. The server's CPU is
 * utime + stime from /proc/<pid>/stat before and after a transfer: the daemon's whole process
 * (all threads), nginx's worker(s). One untimed warm-up each, then `serveRuns` in rotation.
 */
import { chmodSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { pieceCountOf, pieceLengthOf } from '../../api/index.ts';
import { makeTempDir } from '../lib/cleanup.ts';
import { writeRandomFile } from '../lib/files.ts';
import { fixed, GB, median } from '../lib/format.ts';
import { findExecutable, runMeasured } from '../lib/spawn.ts';
import type { ClusterArgs } from './args.ts';
import { startDaemon, trafficOf } from './cluster.ts';
import { dfgetEntry } from './dfget.ts';
import { startLoggedNginx } from './origin.ts';
import { clockTicksPerSecond, cpuSecondsOf, cpuSecondsOfAll } from './proc.ts';
import { checkTarget, skippedReport, type Report } from '../lib/report.ts';

const TITLE = 'piece server CPU vs nginx sendfile (same file, same client)';
const FILE_NAME = 'data.bin';
const GiB = 1 << 30;
const RATIO_TARGET = 1.1;
const IDLE_PROBE_MS = 3_000;

type ServerName = 'nginx sendfile' | 'dfdaemon piece server';

interface Transfer {
  readonly server: ServerName;
  readonly timed: boolean;
  readonly serverCpuSeconds: number;
  /** Of that, the server's main thread (the JS thread for the daemon; all of nginx's worker). */
  readonly mainThreadCpuSeconds: number;
  readonly wallSeconds: number;
  readonly clientCpuSeconds: number | undefined;
  readonly connections: number;
}

interface Piece {
  readonly number: number;
  readonly start: number;
  readonly length: number;
}

/** One curl config: every piece in order, each its own transfer on the shared connection. */
function curlConfig(urls: readonly { url: string; range?: string }[]): string {
  return urls
    .map(({ url, range }) =>
      [`url = "${url}"`, ...(range ? [`range = "${range}"`] : []), 'output = "/dev/null"', 'write-out = "%{http_code} %{size_download} %{num_connects}\\n"'].join('\n'),
    )
    .join('\nnext\n');
}

export async function benchServe(args: ClusterArgs, signal: AbortSignal): Promise<Report> {
  const nginx = findExecutable('nginx');
  if (!nginx) return skippedReport(TITLE, 'nginx not found: apt-get install -y nginx-light');
  const curl = findExecutable('curl');
  if (!curl) return skippedReport(TITLE, 'curl not found: apt-get install -y curl');
  const size = args.serveSizeBytes;
  const dir = makeTempDir('serve');
  try {
    chmodSync(dir.path, 0o755);
    const www = join(dir.path, 'www');
    mkdirSync(www, { mode: 0o755 });
    console.error(`  writing a ${fixed(size / GiB)} GiB random file...`);
    writeRandomFile(join(www, FILE_NAME), size, signal);
    const origin = await startLoggedNginx(nginx, join(dir.path, 'nginx'), www, `/${FILE_NAME}`, signal, 1);
    const url = new URL(FILE_NAME, origin.baseUrl).href;
    // No scheduler: the daemon fetches the file from the origin by itself, and nothing but the
    // announcer's retries to an unreachable scheduler runs besides the transfers (measured below).
    const daemon = await startDaemon(dir.path, 'server', false, undefined, signal);
    try {
      console.error('  putting the file into the dfdaemon\'s store (dfget through it)...');
      const env: NodeJS.ProcessEnv = { ...process.env, XDG_CACHE_HOME: join(dir.path, 'dfget-cache'), NODE_OPTIONS: '' };
      delete env['DF_NO_ADDON'];
      const fetched = await runMeasured(process.execPath, [dfgetEntry(), url, '-O', join(dir.path, 'fetched.bin'), '--endpoint', daemon.socketPath, '--no-progress'], {
        env,
        timeoutMs: 120_000 + Math.ceil(size / (10 * 1e6)) * 1000,
        signal,
      });
      if (fetched.exitCode !== 0) throw new Error(`dfget through the daemon exited with ${fetched.exitCode ?? fetched.signal}: ${fetched.stderr.trim()}`);
      rmSync(join(dir.path, 'fetched.bin'), { force: true }); // A hard link: the store keeps the bytes.
      const startedLine = daemon.proc.lines.find((line) => line.msg === 'download started');
      const taskId = String(startedLine?.['taskId'] ?? '');
      if (!/^[0-9a-f]{64}$/.test(taskId)) throw new Error('the daemon did not log the task id of the download');
      const traffic = await trafficOf(daemon, signal);
      if (traffic.backToSource !== size) throw new Error(`the daemon fetched ${traffic.backToSource} bytes from the origin, expected ${size}`);

      const pieceLength = pieceLengthOf(size);
      const pieces: Piece[] = Array.from({ length: pieceCountOf(size, pieceLength) }, (_, n) => ({
        number: n,
        start: n * pieceLength,
        length: Math.min(pieceLength, size - n * pieceLength),
      }));
      const configs: Record<ServerName, string> = {
        'nginx sendfile': join(dir.path, 'nginx.curl'),
        'dfdaemon piece server': join(dir.path, 'daemon.curl'),
      };
      writeFileSync(configs['nginx sendfile'], curlConfig(pieces.map((p) => ({ url, range: `${p.start}-${p.start + p.length - 1}` }))));
      writeFileSync(
        configs['dfdaemon piece server'],
        curlConfig(pieces.map((p) => ({ url: `http://127.0.0.1:${daemon.ports.pieces}/pieces/${taskId}/${p.number}` }))),
      );
      const serverPids: Record<ServerName, () => number[]> = {
        'nginx sendfile': () => origin.workerPids(),
        'dfdaemon piece server': () => [daemon.proc.pid],
      };
      const expectedStatus: Record<ServerName, string> = { 'nginx sendfile': '206', 'dfdaemon piece server': '200' };

      const transfer = async (server: ServerName, timed: boolean): Promise<Transfer> => {
        const report = join(dir.path, 'curl.out');
        const pids = serverPids[server]();
        if (pids.length === 0) throw new Error(`${server}: no process to measure`);
        const before = cpuSecondsOfAll(pids);
        const mainBefore = pids.reduce((sum, pid) => sum + cpuSecondsOf(pid, pid), 0);
        // sh only redirects curl's write-out lines (one per piece) to a file; GNU time measures both.
        const run = await runMeasured('/bin/sh', ['-c', 'exec "$1" -s -K "$2" > "$3"', 'sh', curl, configs[server], report], {
          timeoutMs: 60_000 + Math.ceil(size / (20 * 1e6)) * 1000,
          signal,
        });
        const serverCpuSeconds = cpuSecondsOfAll(pids) - before;
        const mainThreadCpuSeconds = pids.reduce((sum, pid) => sum + cpuSecondsOf(pid, pid), 0) - mainBefore;
        if (run.exitCode !== 0) throw new Error(`curl from ${server} exited with ${run.exitCode ?? run.signal}: ${run.stderr.trim()}`);
        const lines = readFileSync(report, 'utf8').trim().split('\n');
        rmSync(report, { force: true });
        let bytes = 0;
        let connections = 0;
        for (const [i, line] of lines.entries()) {
          const [status, got, connects] = line.split(' ');
          if (status !== expectedStatus[server]) throw new Error(`${server}: piece ${i} answered ${status}`);
          bytes += Number(got);
          connections += Number(connects);
        }
        if (lines.length !== pieces.length || bytes !== size) throw new Error(`${server}: got ${lines.length} pieces, ${bytes} bytes; expected ${pieces.length}, ${size}`);
        return { server, timed, serverCpuSeconds, mainThreadCpuSeconds, wallSeconds: run.wallSeconds, clientCpuSeconds: run.cpuSeconds, connections };
      };

      const servers: ServerName[] = ['nginx sendfile', 'dfdaemon piece server'];
      const transfers: Transfer[] = [];
      for (const server of servers) transfers.push(await transfer(server, false));
      // What the daemon burns doing nothing (announcer, GC timers) over a few seconds.
      const idleBefore = cpuSecondsOf(daemon.proc.pid);
      await sleep(IDLE_PROBE_MS, undefined, { signal });
      const idleCpuPerSecond = (cpuSecondsOf(daemon.proc.pid) - idleBefore) / (IDLE_PROBE_MS / 1000);
      for (let run = 1; run <= args.serveRuns; run++) {
        for (const server of servers) {
          const t = await transfer(server, true);
          transfers.push(t);
          console.error(`  run ${run}/${args.serveRuns} ${server}: ${fixed(t.wallSeconds, 3)} s, server CPU ${fixed(t.serverCpuSeconds, 3)} s`);
        }
      }
      const perGiB = (server: ServerName) => {
        const timed = transfers.filter((t) => t.timed && t.server === server);
        return {
          server,
          cpuSecondsPerGiB: median(timed.map((t) => t.serverCpuSeconds / (size / GiB))),
          cpuRuns: timed.map((t) => t.serverCpuSeconds),
          mainThreadCpuSeconds: median(timed.map((t) => t.mainThreadCpuSeconds)),
          wallSeconds: median(timed.map((t) => t.wallSeconds)),
          clientCpuSeconds: median(timed.map((t) => t.clientCpuSeconds ?? Number.NaN)),
          connections: Math.max(...timed.map((t) => t.connections)),
        };
      };
      const [viaNginx, viaDaemon] = servers.map(perGiB) as [ReturnType<typeof perGiB>, ReturnType<typeof perGiB>];
      const ratio = viaDaemon.cpuSecondsPerGiB / viaNginx.cpuSecondsPerGiB;
      const rows = [viaNginx, viaDaemon].map((r) => [
        r.server,
        r.cpuRuns.map((c) => fixed(c, 2)).join(' / '),
        fixed(r.cpuSecondsPerGiB, 3),
        fixed(r.cpuSecondsPerGiB / viaNginx.cpuSecondsPerGiB),
        fixed(r.mainThreadCpuSeconds),
        fixed(r.wallSeconds, 3),
        fixed(size / r.wallSeconds / GB),
        fixed(r.clientCpuSeconds),
        String(r.connections),
      ]);
      return {
        title: TITLE,
        tables: [
          {
            caption: `${fixed(size / GiB)} GiB in ${pieces.length} pieces of ${pieceLength >> 20} MiB, curl over one keep-alive connection; median of ${args.serveRuns}`,
            header: ['server', 'server CPU s (each run)', 'CPU s/GiB', 'x nginx', 'main thread s', 'wall s', 'GB/s', 'curl CPU s', 'connections'],
            rows,
          },
        ],
        notes: [
          `server CPU: utime+stime from /proc/<pid>/stat (${clockTicksPerSecond()} ticks/s) before and after each transfer: nginx's worker; the dfdaemon's whole process (every thread)`,
          `main thread s: median CPU of the server's main thread alone (/proc/<pid>/task/<pid>/stat): the daemon's JS (HTTP, handler, file open, starting each native sendfile); the rest of its CPU is the sendfile threads`,
          `dfdaemon idle CPU (no transfer, ${IDLE_PROBE_MS / 1000} s): ${fixed(idleCpuPerSecond * 1000, 1)} ms/s, included in its figures (announcer to an unreachable scheduler, timers)`,
          'nginx gets each piece as a Range request; the daemon as GET /pieces/<taskId>/<n>; one untimed warm-up transfer each',
        ],
        targets: [
          checkTarget(
            'piece server CPU per GiB / nginx sendfile',
            ratio,
            '<=',
            RATIO_TARGET,
            `the daemon's main thread alone spends ${fixed(viaDaemon.mainThreadCpuSeconds)} s per transfer (${fixed((viaDaemon.mainThreadCpuSeconds / pieces.length) * 1e6, 0)} us per piece) on top of sendfile`,
          ),
        ],
        data: { sizeBytes: size, pieceLength, pieces: pieces.length, taskId, idleCpuPerSecond, nginx: viaNginx, daemon: viaDaemon, ratio, transfers },
      };
    } finally {
      await daemon.proc.stop();
      await origin.stop();
    }
  } finally {
    await dir.remove();
  }
}
