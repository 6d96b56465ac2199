/**
 * Builds the console: esbuild bundles src/main.ts (Preact + htm, no JSX step) into
 * dist/assets/app.js and copies index.html and styles.css beside it. Runs at `npm install` (the
 * root package's install script) and `npm run build:console`; the manager serves dist/. dist/ is
 * not committed: it is derived, and a bundle in git would drift from its source.
 */
import { build } from 'esbuild';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';

const SRC = join(import.meta.dirname, 'src');
export const CONSOLE_DIST = join(import.meta.dirname, 'dist');

/**
 * Writes dist/ (about 0.1 s); throws with esbuild's messages when the source is broken. Each file
 * is replaced by a rename, so a manager serving dist/ meanwhile (a test, a running console) never
 * sees a missing or half-written file.
 */
export async function buildConsole(dist: string = CONSOLE_DIST): Promise<void> {
  const bundle = await build({
    entryPoints: [join(SRC, 'main.ts')],
    outfile: join(dist, 'assets', 'app.js'),
    bundle: true,
    format: 'esm',
    target: 'es2022',
    minify: true,
    sourcemap: 'linked',
    legalComments: 'none',
    logLevel: 'warning',
    write: false,
  });
  const files = [
    ...bundle.outputFiles.map((file) => ({ path: file.path, contents: file.contents })),
    { path: join(dist, 'index.html'), contents: await readFile(join(SRC, 'index.html')) },
    { path: join(dist, 'assets', 'styles.css'), contents: await readFile(join(SRC, 'styles.css')) },
  ];
  for (const file of files) {
    await mkdir(dirname(file.path), { recursive: true });
    const temp = `${file.path}.${process.pid}.tmp`;
    await writeFile(temp, file.contents);
    await rename(temp, file.path);
  }
}

if (import.meta.main) {
  const started = performance.now();
  await buildConsole();
  console.log(`console built in ${Math.round(performance.now() - started)} ms: ${CONSOLE_DIST}`);
}
