// Refreshes addon/vendor/ (the crates the addon builds from, found by .cargo/config.toml) from
// Debian's librust-*-dev crates, then drops what no build reads (tests, benches, Debian's patch
// notes) and removes those files from each crate's .cargo-checksum.json so cargo still accepts it.
//   node scripts/vendor-crates.ts [REGISTRY_DIR]     default /usr/share/cargo/registry
// Run it after changing addon/Cargo.toml's [dependencies]; commit addon/vendor and Cargo.lock.

import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const ROOT = path.resolve(import.meta.dirname, '..');
const VENDOR = path.join('addon', 'vendor');
const registry = process.argv[2] ?? '/usr/share/cargo/registry';
/** Top-level folders of a crate that only its own tests, benches or packaging read. */
const PRUNED = ['tests', 'benches', 'debian', 'ci', 'examples'];

// Command-line --config beats .cargo/config.toml, so this reads Debian's crates instead of the
// current addon/vendor; --respect-source-config makes `cargo vendor` honour the replacement.
const r = spawnSync('cargo', ['vendor', '--respect-source-config', '--versioned-dirs', '--quiet',
  '--config', 'source.crates-io.replace-with="system"',
  '--config', `source.system.directory=${JSON.stringify(registry)}`,
  VENDOR], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
if (r.error !== undefined || r.status !== 0) {
  console.error(`vendor: cargo vendor failed${r.error ? `: ${r.error.message}` : ''}`);
  process.exit(1);
}

for (const crate of readdirSync(path.join(ROOT, VENDOR))) {
  const dir = path.join(ROOT, VENDOR, crate);
  const sumsPath = path.join(dir, '.cargo-checksum.json');
  const sums = JSON.parse(readFileSync(sumsPath, 'utf8')) as { files: Record<string, string>; package: string | null };
  for (const top of PRUNED) rmSync(path.join(dir, top), { recursive: true, force: true });
  for (const file of Object.keys(sums.files)) {
    if (PRUNED.includes(file.split('/')[0]!)) delete sums.files[file];
  }
  writeFileSync(sumsPath, JSON.stringify(sums));
}
console.log(`vendor: ${readdirSync(path.join(ROOT, VENDOR)).length} crates in ${VENDOR}`);
