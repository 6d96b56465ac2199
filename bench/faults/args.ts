/** `npm run bench:faults -- [flags]`: parsed once into a frozen object. */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { parseDuration, parseRate, parseSize } from '../../api/index.ts';
import { integer, unit, UsageError } from '../swarm/args.ts';
import { MAX_HOSTS } from '../swarm/netns.ts';
import { FAULTS, FAULT_NAMES } from './faults.ts';

export interface FaultsArgs {
  readonly peers: number;
  readonly sizeBytes: number;
  readonly rateBps: number;
  readonly rateText: string;
  readonly originRateBps: number;
  readonly faults: readonly string[];
  /** Overrides every fault's own point. */
  readonly atFraction: number | undefined;
  readonly faultMs: number;
  readonly restartAfterMs: number;
  readonly netem: string;
  readonly timeoutMs: number | undefined;
  readonly outDir: string;
  readonly help: boolean;
}

const DEFAULT_NETEM = 'delay 20ms 5ms loss 0.5%';

export const FAULTS_USAGE = `Usage: npm run bench:faults -- [--peers 16] [--size 128MiB] [--rate 100mbit] [--origin-rate RATE]
         [--faults a,b,c] [--at FRACTION] [--fault-seconds 10s] [--restart-after 3s] [--netem PARAMS]
         [--timeout DURATION] [--out DIR]

The swarm bench's p2p cluster (dfscheduler, a seed dfdaemon, a dfdaemon per peer, nginx as the
origin) on simulated hosts (network namespaces, tc rate limits), run once undisturbed and then once
per fault, each with one fault injected when the peers' links have received a fraction ("at") of
what they need. Each cell reports survivors done, outputs byte-identical, max completion against the
undisturbed run, origin egress and anything left behind. Writes faults.json into --out. Needs root.

  --peers N              peer hosts (default 16)
  --size SIZE            file size (default 128MiB)
  --rate RATE            every link's rate, both directions (default 100mbit)
  --origin-rate RATE     the origin host's link rate (default: --rate)
  --faults LIST          cells to run, comma-separated (default: all, in this order):
${FAULTS.map((f) => `                           ${f.name} (at ${f.defaultAt}): ${f.summary}`).join('\n')}
  --at FRACTION          one point for every chosen fault, 0 to 1 (default: each fault's own)
  --fault-seconds DUR    how long a stalled parent and an origin fault last (default 10s; 0: the
                         stalled parent never comes back and its own dfget is stopped at the end)
  --restart-after DUR    how long a killed dfscheduler or dfdaemon stays down (default 3s)
  --netem PARAMS         netem's parameters for the netem cell (default "${DEFAULT_NETEM}")
  --timeout DURATION     hard bound per cell (default: 60s + 1.5 x peers x floor)
  --out DIR              where faults.json goes (default bench/results/faults-<time>)
`;

export function parseFaultsArgs(argv: readonly string[], cwd = process.cwd()): FaultsArgs {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      strict: true,
      options: {
        peers: { type: 'string', default: '16' },
        size: { type: 'string', default: '128MiB' },
        rate: { type: 'string', default: '100mbit' },
        'origin-rate': { type: 'string' },
        faults: { type: 'string', default: FAULT_NAMES.join(',') },
        at: { type: 'string' },
        'fault-seconds': { type: 'string', default: '10s' },
        'restart-after': { type: 'string', default: '3s' },
        netem: { type: 'string', default: DEFAULT_NETEM },
        timeout: { type: 'string' },
        out: { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }));
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const faults = [...new Set(values.faults.split(',').map((s) => s.trim()).filter(Boolean))];
  for (const name of faults) if (!FAULT_NAMES.includes(name)) throw new UsageError(`--faults: unknown fault "${name}"; known: ${FAULT_NAMES.join(', ')}`);
  if (faults.length === 0) throw new UsageError('--faults must name at least one fault');
  const sizeBytes = unit('size', values.size, parseSize);
  // Below 4 MiB a daemon goes straight to the origin (Dragonfly's rule): no swarm to break.
  if (sizeBytes <= 4 << 20) throw new UsageError(`--size must be more than 4MiB, got ${values.size}`);
  const rateBps = unit('rate', values.rate, parseRate);
  const originRateBps = values['origin-rate'] === undefined ? rateBps : unit('origin-rate', values['origin-rate'], parseRate);
  if (rateBps < 1e6 || originRateBps < 1e6) throw new UsageError('--rate and --origin-rate must be at least 1mbit');
  const atFraction = values.at === undefined ? undefined : Number(values.at);
  if (atFraction !== undefined && !(atFraction >= 0 && atFraction < 1)) throw new UsageError(`--at must be a fraction from 0 to below 1, got ${values.at}`);
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  return Object.freeze({
    peers: integer('peers', values.peers, 2, MAX_HOSTS - 2),
    sizeBytes,
    rateBps,
    rateText: values.rate,
    originRateBps,
    faults,
    atFraction,
    faultMs: unit('fault-seconds', values['fault-seconds'], parseDuration),
    restartAfterMs: unit('restart-after', values['restart-after'], parseDuration),
    netem: values.netem,
    timeoutMs: values.timeout === undefined ? undefined : unit('timeout', values.timeout, parseDuration),
    outDir: values.out ? resolve(cwd, values.out) : resolve(import.meta.dirname, '..', 'results', `faults-${stamp}`),
    help: values.help === true,
  });
}
