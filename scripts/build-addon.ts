// Builds the Rust addon (addon/) into addon/df_addon.<platform>.node, or runs its Rust unit tests.
//   node scripts/build-addon.ts             package install: a missing cargo or failed build is fine,
//                                           addon/index.ts then uses the JS fallback
//   node scripts/build-addon.ts --required  npm run build:addon: any failure exits non-zero
//   node scripts/build-addon.ts --test      npm run test:rust: cargo test, exits with its status
// Quiet on success (one summary line); on failure prints the tool's output.
// The crates come from addon/vendor through .cargo/config.toml: no network, no --config needed.

import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { copyFileSync, existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const ADDON_DIR = path.join(ROOT, 'addon');
/** Cargo.lock is committed with the vendored crates: a build that would change it is a mistake. */
const CARGO_ARGS = ['--locked'];

const args = new Set(process.argv.slice(2));
const required = args.has('--required') || process.env['DF_E2E_REQUIRED'] === '1';

function hasCargo(): boolean {
  const r = spawnSync('cargo', ['--version'], { stdio: 'ignore' });
  return r.error === undefined && r.status === 0;
}

function run(cmd: string, argv: string[], cwd: string): SpawnSyncReturns<string> {
  return spawnSync(cmd, argv, { cwd, encoding: 'utf8', maxBuffer: 64 << 20 });
}

function failed(r: SpawnSyncReturns<string>): boolean {
  return r.error !== undefined || r.status !== 0;
}

function printOutput(r: SpawnSyncReturns<string>): void {
  if (r.error) console.error(String(r.error));
  const out = `${r.stdout ?? ''}${r.stderr ?? ''}`.trim();
  if (out) console.error(out);
}

/** The name `napi build --platform` gives; addon/native.ts looks for the same. */
function platformFile(): string {
  const { platform, arch } = process;
  const suffix = platform === 'linux' ? `linux-${arch}-gnu` : platform === 'win32' ? `win32-${arch}-msvc` : `${platform}-${arch}`;
  return `df_addon.${suffix}.node`;
}

function napiCli(): string | undefined {
  try {
    const require = createRequire(import.meta.url);
    const pkgPath = require.resolve('@napi-rs/cli/package.json');
    const pkg = JSON.parse(readFileSync(pkgPath, 'utf8')) as { bin?: string | Record<string, string> };
    const bin = typeof pkg.bin === 'string' ? pkg.bin : pkg.bin?.['napi'];
    return bin === undefined ? undefined : path.join(path.dirname(pkgPath), bin);
  } catch {
    // Not installed (npm install --omit=dev): build with cargo directly instead.
    return undefined;
  }
}

function build(): SpawnSyncReturns<string> {
  const cli = napiCli();
  if (cli !== undefined) {
    const argv = [cli, 'build', '--release', '--platform', '--no-js', '--cwd', ADDON_DIR,
      '--package-json-path', '../package.json', '--config-path', 'napi.json', '--output-dir', '.', '--', ...CARGO_ARGS];
    return run(process.execPath, argv, ADDON_DIR);
  }
  const r = run('cargo', ['build', '--release', '--lib', ...CARGO_ARGS], ADDON_DIR);
  if (!failed(r)) {
    const lib = process.platform === 'darwin' ? 'libdf_addon.dylib' : process.platform === 'win32' ? 'df_addon.dll' : 'libdf_addon.so';
    copyFileSync(path.join(ROOT, 'target', 'release', lib), path.join(ADDON_DIR, platformFile()));
  }
  return r;
}

function main(): number {
  if (!hasCargo()) {
    if (args.has('--test')) {
      console.error('addon: !!! cargo not found on PATH: Rust unit tests SKIPPED !!!');
      return required ? 1 : 0;
    }
    console.error('addon: cargo not found on PATH; the JS fallback (node:crypto, zlib) will be used');
    return required ? 1 : 0;
  }

  if (args.has('--test')) {
    const r = spawnSync('cargo', ['test', '--quiet', ...CARGO_ARGS], { cwd: ADDON_DIR, stdio: 'inherit' });
    if (r.error) console.error(`addon: cannot run cargo test: ${r.error.message}`);
    return r.status ?? 1;
  }

  const started = Date.now();
  const r = build();
  const built = path.join('addon', platformFile());
  if (failed(r) || !existsSync(path.join(ROOT, built))) {
    printOutput(r);
    console.error(`addon: build FAILED; ${required ? 'aborting' : 'the JS fallback will be used'}`);
    return required ? 1 : 0;
  }
  console.log(`addon: built ${built} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return 0;
}

process.exitCode = main();
