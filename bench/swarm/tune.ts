/**
 * `npm run bench:tune -- --peers N --size S [--rate R] [--piece-lengths ...] [--concurrency-list ...]`:
 * the p2p system on one topology and file for every piece length (4, 8, 16, 32 MiB and the
 * formula's choice) times every daemon concurrency (download.concurrentPieceCount), ranked by the
 * last peer's completion time. Prints the table and the best settings with their figures, and
 * writes tune.json into --out. Needs root, as bench:swarm.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pieceLengthOf } from '../../api/index.ts';
import { fixed, formatTable, loud } from '../lib/format.ts';
import { installInterruptHandlers, runCleanup } from '../lib/cleanup.ts';
import { argsOrExit, parseTuneArgs, TUNE_USAGE } from './args.ts';
import { measureSystem, type SystemResult } from './measure.ts';
import { p2pSystem } from './p2p.ts';
import { missingTools, openSession } from './session.ts';

const MiB = 2 ** 20;
const log = (message: string) => console.error(`tune: ${message}`);

interface Trial {
  readonly pieceLengthBytes: number;
  readonly formula: boolean;
  readonly concurrency: number;
  readonly runs: SystemResult[];
  readonly error?: string;
}

/** The worst max completion over a trial's runs (a setting is as good as its worst run). */
function worstMax(trial: Trial): number {
  if (trial.error || trial.runs.length === 0) return Number.POSITIVE_INFINITY;
  return Math.max(...trial.runs.map((r) => (r.verified ? r.completionSeconds.max : Number.POSITIVE_INFINITY)));
}

async function main(argv: readonly string[]): Promise<number> {
  const args = argsOrExit('bench:tune', argv, parseTuneArgs, TUNE_USAGE);
  if (typeof args === 'number') return args;
  const missing = missingTools(p2pSystem);
  if (missing.length > 0) {
    console.error(`bench:tune: missing ${missing.join(', ')}`);
    return 1;
  }
  const formula = pieceLengthOf(args.sizeBytes);
  const lengths = [...new Set([...args.pieceLengths, formula])].sort((a, b) => a - b);
  const trials: Trial[] = [];
  const controller = new AbortController();
  const perRunMs = args.timeoutMs ?? 60_000 + 1.5 * args.peers * ((args.sizeBytes * 8) / args.rateBps) * 1000;
  const removeHandlers = installInterruptHandlers(controller, 10 * 60_000 + lengths.length * args.concurrencies.length * args.runs * (perRunMs + 120_000));
  try {
    const session = await openSession(args, controller.signal, log);
    let run = 0;
    for (const pieceLengthBytes of lengths) {
      for (const concurrency of args.concurrencies) {
        const trial: Trial = { pieceLengthBytes, formula: pieceLengthBytes === formula, concurrency, runs: [] };
        trials.push(trial);
        for (let k = 0; k < args.runs; k++) {
          try {
            const result = await measureSystem(p2pSystem, session.contextFor('p2p', ++run, { pieceLengthBytes, concurrentPieceCount: concurrency, relay: args.relay, keepAlive: args.keepAlive, stripes: args.stripes, mtls: args.mtls }));
            trial.runs.push(result);
            log(`${pieceLengthBytes / MiB} MiB x ${concurrency}: max ${fixed(result.completionSeconds.max)} s (${fixed(result.completionSeconds.max / session.floorSeconds)} x floor)${result.verified ? '' : ' NOT VERIFIED'}${result.cpu.cpuBound ? ' CPU-BOUND' : ''}`);
          } catch (error) {
            if (controller.signal.aborted) throw controller.signal.reason;
            Object.assign(trial, { error: (error as Error).message });
            console.error(loud(`${pieceLengthBytes / MiB} MiB x ${concurrency} FAILED: ${(error as Error).message}`));
            break;
          }
        }
      }
    }
    const floor = session.floorSeconds;
    await session.close();
    const ranked = [...trials].sort((a, b) => worstMax(a) - worstMax(b));
    const rows = ranked.map((t) => {
      const r = t.runs;
      const median = (pick: (x: SystemResult) => number) => (r.length ? [...r.map(pick)].sort((a, b) => a - b)[(r.length - 1) >> 1]! : Number.NaN);
      return [
        `${t.pieceLengthBytes / MiB} MiB${t.formula ? ' (formula)' : ''}`,
        String(t.concurrency),
        fixed(median((x) => x.completionSeconds.p50)),
        fixed(median((x) => x.completionSeconds.max)),
        fixed(worstMax(t)),
        fixed(worstMax(t) / floor),
        fixed(median((x) => x.originEgressBytes / args.sizeBytes), 3),
        t.error ? 'FAILED' : r.every((x) => x.verified) ? 'yes' : 'NO',
        r.some((x) => x.cpu.cpuBound) ? 'CPU-BOUND' : 'no',
      ];
    });
    console.log(`\n== tune: p2p, ${args.peers} peers x ${(args.sizeBytes / MiB).toFixed(0)} MiB, ${args.rateText} per link, ${args.runs} run(s) per setting; floor ${fixed(floor)} s\n`);
    console.log(formatTable(['piece length', 'concurrency', 'p50 s', 'max s', 'worst max s', 'worst max/floor', 'origin x file', 'verified', 'cpu-bound'], rows));
    const best = ranked[0];
    if (best && Number.isFinite(worstMax(best))) {
      console.log(`\nbest: --piece-length ${best.pieceLengthBytes / MiB}MiB --concurrency ${best.concurrency}: last peer done in ${fixed(worstMax(best))} s (${fixed(worstMax(best) / floor)} x floor)`);
    }
    mkdirSync(args.outDir, { recursive: true });
    const json = join(args.outDir, 'tune.json');
    writeFileSync(
      json,
      `${JSON.stringify(
        {
          peers: args.peers,
          sizeBytes: args.sizeBytes,
          rate: args.rateText,
          floorSeconds: floor,
          trials: ranked.map((t) => ({
            pieceLengthBytes: t.pieceLengthBytes,
            formula: t.formula,
            concurrentPieceCount: t.concurrency,
            error: t.error ?? null,
            runs: t.runs.map((r) => ({ completionSeconds: r.completionSeconds, originEgressBytes: r.originEgressBytes, verified: r.verified, cpuBound: r.cpu.cpuBound })),
          })),
        },
        null,
        2,
      )}\n`,
    );
    console.log(`results: ${json}`);
    return trials.some((t) => t.error) ? 1 : 0;
  } finally {
    removeHandlers();
    await runCleanup();
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  async (error: unknown) => {
    console.error(`bench:tune: ${(error as Error).message ?? error}`);
    await runCleanup();
    process.exit(1);
  },
);
