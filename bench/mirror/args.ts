/** `npm run bench:mirror -- [flags]`: parsed once into a frozen object. */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { parseSize } from '../../api/index.ts';

export interface MirrorArgs {
  /** Sizes of the image's layers, in push order. */
  readonly layerBytes: readonly number[];
  /** Timed requests per time-to-first-byte case; the median is reported. */
  readonly ttfbRuns: number;
  /** `download.concurrentPieceCount` for every daemon; undefined keeps the daemon's default (8). */
  readonly concurrentPieces: number | undefined;
  /** Blob GETs at once in the concurrent mode (concurrent.ts); 0 runs the pull bench. */
  readonly concurrent: number;
  /** Client processes the concurrent mode's GETs are spread over. */
  readonly clients: number;
  readonly outDir: string;
  readonly help: boolean;
}

/** Eight layers of two pieces each: N readers of 8 MiB bodies keep a round short on 2 cores. */
const CONCURRENT_LAYERS = '8MiB,8MiB,8MiB,8MiB,8MiB,8MiB,8MiB,8MiB';
const MAX_CONCURRENT = 5_000;
const MAX_CLIENTS = 64;

export const MIRROR_USAGE = `Usage: npm run bench:mirror -- [--layers 100MiB,70MiB,40MiB] [--ttfb-runs 5]
                                [--concurrent-pieces N] [--out DIR]
       npm run bench:mirror -- --concurrent 200 [--clients 2] [--layers ...] [--out DIR]

  --layers LIST    sizes of the image's layers of random bytes, comma-separated (default
                   100MiB,70MiB,40MiB: the issue's >= 200 MiB image); each more than 4MiB
  --ttfb-runs N    time-to-first-byte samples per case (direct, cold mirror, warm mirror);
                   each cold sample starts a fresh scheduler and daemon, each warm one a fresh
                   daemon (default 5)
  --concurrent-pieces N
                   download.concurrentPieceCount of every daemon (default: the daemon's, 8):
                   how many pieces a download fetches at once, the first one among them
  --concurrent N   instead of pulls: rounds of N blob GETs at once, each on its own connection
                   (direct, cold mirror, warm mirror, mirror of a second node), half of them for
                   one blob; errors by kind and first/last byte percentiles. Default layers then
                   ${CONCURRENT_LAYERS}; --ttfb-runs is not used
  --clients N      client processes the GETs are spread over (default 2)
  --out DIR        where the JSON results go (default bench/results)
`;

/** Below this a daemon fetches straight from the origin without the scheduler (Dragonfly's rule). */
const MIN_LAYER_BYTES = (4 << 20) + 1;
const MAX_LAYERS = 16;
const MAX_IMAGE_BYTES = 8 * 2 ** 30;

export function parseMirrorArgs(argv: readonly string[], cwd = process.cwd()): MirrorArgs {
  const { values } = parseArgs({
    args: [...argv],
    strict: true,
    options: {
      layers: { type: 'string' },
      'ttfb-runs': { type: 'string', default: '5' },
      'concurrent-pieces': { type: 'string' },
      concurrent: { type: 'string', default: '0' },
      clients: { type: 'string', default: '2' },
      out: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  const concurrent = Number(values.concurrent);
  if (!Number.isSafeInteger(concurrent) || concurrent < 0 || concurrent > MAX_CONCURRENT) {
    throw new Error(`--concurrent must be an integer from 0 (pulls) to ${MAX_CONCURRENT}, got ${values.concurrent}`);
  }
  const clients = Number(values.clients);
  if (!Number.isSafeInteger(clients) || clients < 1 || clients > MAX_CLIENTS) throw new Error(`--clients must be an integer from 1 to ${MAX_CLIENTS}, got ${values.clients}`);
  const layersText = values.layers ?? (concurrent > 0 ? CONCURRENT_LAYERS : '100MiB,70MiB,40MiB');
  const texts = layersText.split(',').map((text) => text.trim());
  if (texts.length === 0 || texts.length > MAX_LAYERS || texts.some((text) => text === '')) {
    throw new Error(`--layers must list 1 to ${MAX_LAYERS} sizes separated by commas, got ${JSON.stringify(layersText)}`);
  }
  const layerBytes = texts.map((text) => {
    let bytes: number;
    try {
      bytes = parseSize(text);
    } catch (error) {
      throw new Error(`--layers: ${(error as Error).message}`, { cause: error });
    }
    if (bytes < MIN_LAYER_BYTES) throw new Error(`--layers: each layer must be more than 4MiB (smaller blobs skip P2P), got ${text}`);
    return bytes;
  });
  const total = layerBytes.reduce((sum, bytes) => sum + bytes, 0);
  if (total > MAX_IMAGE_BYTES) throw new Error(`--layers: the image may hold at most 8GiB, got ${layersText}`);
  const ttfbRuns = Number(values['ttfb-runs']);
  if (!Number.isSafeInteger(ttfbRuns) || ttfbRuns < 1 || ttfbRuns > 20) {
    throw new Error(`--ttfb-runs must be an integer from 1 to 20, got ${values['ttfb-runs']}`);
  }
  const piecesText = values['concurrent-pieces'];
  const concurrentPieces = piecesText === undefined ? undefined : Number(piecesText);
  if (concurrentPieces !== undefined && (!Number.isSafeInteger(concurrentPieces) || concurrentPieces < 1 || concurrentPieces > 1024)) {
    throw new Error(`--concurrent-pieces must be an integer from 1 to 1024 (the daemon's bounds), got ${piecesText}`);
  }
  return Object.freeze({
    layerBytes: Object.freeze(layerBytes),
    ttfbRuns,
    concurrentPieces,
    concurrent,
    clients,
    outDir: values.out ? resolve(cwd, values.out) : resolve(import.meta.dirname, '..', 'results'),
    help: values.help,
  });
}
