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
  readonly outDir: string;
  readonly help: boolean;
}

export const MIRROR_USAGE = `Usage: npm run bench:mirror -- [--layers 100MiB,70MiB,40MiB] [--ttfb-runs 5]
                                [--concurrent-pieces N] [--out DIR]

  --layers LIST    sizes of the image's layers of random bytes, comma-separated (default
                   100MiB,70MiB,40MiB: the issue's >= 200 MiB image); each more than 4MiB
  --ttfb-runs N    time-to-first-byte samples per case (direct, cold mirror, warm mirror);
                   each cold sample starts a fresh scheduler and daemon, each warm one a fresh
                   daemon (default 5)
  --concurrent-pieces N
                   download.concurrentPieceCount of every daemon (default: the daemon's, 8):
                   how many pieces a download fetches at once, the first one among them
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
      layers: { type: 'string', default: '100MiB,70MiB,40MiB' },
      'ttfb-runs': { type: 'string', default: '5' },
      'concurrent-pieces': { type: 'string' },
      out: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  const texts = values.layers.split(',').map((text) => text.trim());
  if (texts.length === 0 || texts.length > MAX_LAYERS || texts.some((text) => text === '')) {
    throw new Error(`--layers must list 1 to ${MAX_LAYERS} sizes separated by commas, got ${JSON.stringify(values.layers)}`);
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
  if (total > MAX_IMAGE_BYTES) throw new Error(`--layers: the image may hold at most 8GiB, got ${values.layers}`);
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
    outDir: values.out ? resolve(cwd, values.out) : resolve(import.meta.dirname, '..', 'results'),
    help: values.help,
  });
}
