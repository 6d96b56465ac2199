/**
 * Builds the console: esbuild bundles src/main.ts (Preact + htm, no JSX step) into
 * dist/assets/app.js and copies index.html and styles.css beside it. Runs at `npm install` (the
 * root package's install script) and `npm run build:console`; the manager serves dist/. dist/ is
 * not committed: it is derived, and a bundle in git would drift from its source.
 */
import { build } from 'esbuild';
import { copyFile, mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';

const SRC = join(import.meta.dirname, 'src');
export const CONSOLE_DIST = join(import.meta.dirname, 'dist');

/** Writes a fresh dist/ (about 0.1 s); throws with esbuild's messages when the source is broken. */
export async function buildConsole(dist: string = CONSOLE_DIST): Promise<void> {
  await rm(dist, { recursive: true, force: true });
  await mkdir(join(dist, 'assets'), { recursive: true });
  await build({
    entryPoints: [join(SRC, 'main.ts')],
    outfile: join(dist, 'assets', 'app.js'),
    bundle: true,
    format: 'esm',
    target: 'es2022',
    minify: true,
    sourcemap: 'linked',
    legalComments: 'none',
    logLevel: 'warning',
  });
  await copyFile(join(SRC, 'index.html'), join(dist, 'index.html'));
  await copyFile(join(SRC, 'styles.css'), join(dist, 'assets', 'styles.css'));
}

if (import.meta.main) {
  const started = performance.now();
  await buildConsole();
  console.log(`console built in ${Math.round(performance.now() - started)} ms: ${CONSOLE_DIST}`);
}
