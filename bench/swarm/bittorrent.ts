/**
 * The P2P baseline: BitTorrent as RECIPES.md runs it. mktorrent makes a torrent of the file with the
 * swarm's piece length (a power of two, as BitTorrent allows); opentracker (whitelisting only that
 * torrent) runs on the seed host; an aria2c seeder on the origin host; then one aria2c leecher per
 * peer, all at once, DHT and local peer discovery off so nothing looks beyond the simulated hosts.
 * A leecher counts as done when its completion hook writes a time stamp; leechers keep seeding
 * until every one is done (as BitTorrent clients do), then all are stopped.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { findExecutable, killGroup } from '../lib/spawn.ts';
import type { CpuLedger } from './cpu.ts';
import { execInHost, startInHost } from './hosts.ts';
import type { PeerOutcome, SwarmSystem } from './system.ts';

const execFileAsync = promisify(execFile);

const TRACKER_PORT = 6969;
const POLL_MS = 50;
const SEEDER_READY_TIMEOUT_MS = 30_000;
/** mktorrent takes the piece length as a power of two between these. */
const MIN_PIECE_EXPONENT = 15;
const MAX_PIECE_EXPONENT = 28;

const COMMON_ARGS = [
  '--enable-dht=false',
  '--enable-dht6=false',
  '--bt-enable-lpd=false',
  '--disable-ipv6=true',
  '--file-allocation=none',
  '--seed-ratio=0.0',
  '--summary-interval=0',
  '--console-log-level=warn',
  '--allow-overwrite=true',
];

/** The power of two nearest to `bytes` that mktorrent accepts. */
export function torrentPieceExponent(bytes: number): number {
  return Math.min(MAX_PIECE_EXPONENT, Math.max(MIN_PIECE_EXPONENT, Math.round(Math.log2(bytes))));
}

/** `%xx` of every byte of a hex info hash, for a tracker query. */
function percentEncodedHash(hex: string): string {
  return hex.replace(/../g, (byte) => `%${byte}`);
}

export const bittorrentSystem: SwarmSystem = {
  name: 'bittorrent',
  needs: [
    { binary: 'aria2c', apt: 'aria2' },
    { binary: 'opentracker', apt: 'opentracker' },
    { binary: 'mktorrent', apt: 'mktorrent' },
    { binary: 'curl', apt: 'curl' },
  ],
  peerKind: 'aria2c (leecher)',
  async prepare(ctx) {
    const aria2c = findExecutable('aria2c')!;
    const tracker = `http://${ctx.seed.ip}:${TRACKER_PORT}/announce`;
    const exponent = torrentPieceExponent(ctx.pieceLengthBytes);
    const torrent = join(ctx.workDir, `${ctx.file.name}.torrent`);
    ctx.log(`bittorrent: hashing a torrent with 2^${exponent}-byte pieces`);
    await execFileAsync(findExecutable('mktorrent')!, ['-a', tracker, '-l', String(exponent), '-o', torrent, ctx.file.path], { timeout: 300_000, signal: ctx.signal });
    const { stdout } = await execFileAsync(aria2c, ['-S', torrent], { timeout: 30_000 });
    const infoHash = /Info Hash: ([0-9a-f]{40})/i.exec(stdout)?.[1]?.toLowerCase();
    if (!infoHash) throw new Error(`no info hash in aria2c -S ${torrent}: ${stdout.slice(0, 300)}`);

    // opentracker chroots into its root and reads the whitelist there, as nobody: world-readable.
    const trackerRoot = join(ctx.workDir, 'tracker');
    mkdirSync(trackerRoot, { recursive: true });
    chmodSync(trackerRoot, 0o755);
    writeFileSync(join(trackerRoot, 'whitelist.txt'), `${infoHash}\n`, { mode: 0o644 });
    const trackerConf = join(ctx.workDir, 'opentracker.conf');
    writeFileSync(trackerConf, `access.whitelist /whitelist.txt\ntracker.rootdir ${trackerRoot}\ntracker.user nobody\n`, { mode: 0o644 });

    const stops: Array<() => Promise<void>> = [];
    const stop = async () => {
      for (const one of stops.splice(0).reverse()) await one();
    };
    try {
      const trackerProc = startInHost(ctx.seed, 'opentracker', findExecutable('opentracker')!, ['-i', ctx.seed.ip, '-p', String(TRACKER_PORT), '-P', String(TRACKER_PORT), '-f', trackerConf]);
      stops.push(trackerProc.stop);
      const seeder = startInHost(ctx.origin, 'aria2c seeder', aria2c, [...COMMON_ARGS, '--bt-seed-unverified=true', '-d', ctx.file.dir, torrent]);
      stops.push(seeder.stop);
      await waitForSeeder(ctx.seed, infoHash, ctx.signal, () => seeder.child.exitCode === null && trackerProc.child.exitCode === null);

      const hook = join(ctx.workDir, 'done-hook.sh');
      // aria2 runs it with GID, file count and the first file's path once a download completes.
      writeFileSync(hook, '#!/bin/sh\ndate +%s%N > "$3.done.tmp" && mv "$3.done.tmp" "$3.done"\n', { mode: 0o755 });
      const leecherDirs = ctx.peers.map((peer) => join(ctx.workDir, peer.name));
      for (const dir of leecherDirs) mkdirSync(dir, { recursive: true });
      const leechers: ReturnType<typeof startInHost>[] = [];
      stops.push(async () => void (await Promise.all(leechers.map((leecher) => leecher.stop()))));
      return {
        track(ledger: CpuLedger) {
          ledger.track('opentracker', trackerProc.child.pid!);
          ledger.track('aria2c (seeder)', seeder.child.pid!);
        },
        killPeer(index, ledger) {
          const leecher = leechers[index];
          if (!leecher) return;
          ledger.settleProcess(leecher.child.pid!);
          killGroup(leecher.child, 'SIGKILL');
        },
        async launch(ledger, signal) {
          const startedAtMs = Date.now();
          ctx.peers.forEach((peer, i) => leechers.push(startInHost(peer, 'aria2c leecher', aria2c, [...COMMON_ARGS, `--on-bt-download-complete=${hook}`, '-d', leecherDirs[i]!, torrent])));
          for (const leecher of leechers) ledger.track('aria2c (leecher)', leecher.child.pid!);
          const outputs = leecherDirs.map((dir) => join(dir, ctx.file.name));
          const done: Array<number | undefined> = outputs.map(() => undefined);
          const deadline = performance.now() + ctx.timeoutMs;
          // Until every leecher is done or gone (a killed one never will be done).
          const waiting = () => done.some((d, i) => d === undefined && leechers[i]!.child.exitCode === null && leechers[i]!.child.signalCode === null);
          const scan = () =>
            outputs.forEach((output, i) => {
              if (done[i] === undefined && existsSync(`${output}.done`)) {
                const nanos = BigInt(readFileSync(`${output}.done`, 'utf8').trim());
                done[i] = (Number(nanos / 1_000_000n) - startedAtMs) / 1000;
              }
            });
          while (waiting() && performance.now() < deadline) {
            signal.throwIfAborted();
            scan();
            await sleep(POLL_MS);
          }
          scan();
          return ctx.peers.map((peer, i): PeerOutcome => {
            const seconds = done[i];
            const leecher = leechers[i]!;
            let error: string | undefined;
            if (seconds === undefined) {
              const ended = leecher.child.exitCode ?? leecher.child.signalCode;
              error = ended !== null ? `aria2c exited with ${ended}: ${leecher.stderr().trim().slice(-300)}` : `not done within ${ctx.timeoutMs / 1000}s`;
            }
            return { name: peer.name, outputPath: outputs[i]!, seconds, error };
          });
        },
        details: async () => ({ pieceLengthBytes: 2 ** exponent, infoHash }),
        stop,
      };
    } catch (error) {
      await stop();
      throw error;
    }
  },
};

/** Until the tracker counts one complete peer (the seeder) for the torrent. */
async function waitForSeeder(trackerHost: Parameters<typeof execInHost>[0], infoHash: string, signal: AbortSignal, alive: () => boolean): Promise<void> {
  const url = `http://${trackerHost.ip}:${TRACKER_PORT}/scrape?info_hash=${percentEncodedHash(infoHash)}`;
  const deadline = performance.now() + SEEDER_READY_TIMEOUT_MS;
  let last = '';
  while (performance.now() < deadline) {
    signal.throwIfAborted();
    if (!alive()) throw new Error('the tracker or the seeder exited before the seeder announced');
    try {
      last = await execInHost(trackerHost, 'curl', ['-s', '--max-time', '2', url], 5_000);
      if (Number(/8:completei(\d+)e/.exec(last)?.[1] ?? 0) >= 1) return;
    } catch (error) {
      last = (error as Error).message;
    }
    await sleep(200);
  }
  throw new Error(`the seeder did not announce to the tracker within ${SEEDER_READY_TIMEOUT_MS / 1000}s (last scrape: ${last.slice(0, 200)})`);
}
