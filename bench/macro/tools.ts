/** The downloaders compared by the macro benchmark, each as a command line for one run. */
import { readFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { findExecutable } from '../lib/spawn.ts';

const REPO_ROOT = resolve(import.meta.dirname, '..', '..');

export interface RunPaths {
  readonly url: string;
  /** Where the tool must write the file; deleted between runs. */
  readonly output: string;
  /** XDG_CACHE_HOME for dfget: its store, on the same file system as the output. */
  readonly cacheDir: string;
  readonly sha256: string;
}

export interface Tool {
  readonly name: string;
  readonly command: string;
  readonly args: (paths: RunPaths) => string[];
  readonly env: (paths: RunPaths) => NodeJS.ProcessEnv;
}

export interface ToolSet {
  readonly tools: readonly Tool[];
  /** Tools left out, with the Debian package that brings them. */
  readonly missing: readonly { readonly name: string; readonly debianPackage: string }[];
}

/** dfget's entry point as package.json's `bin` declares it. */
function dfgetEntry(): string {
  const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { bin?: { dfget?: string } };
  if (!pkg.bin?.dfget) throw new Error('package.json has no bin.dfget');
  return join(REPO_ROOT, pkg.bin.dfget);
}

/** Drops DF_NO_ADDON inherited from the caller so "addon" rows really use the addon. */
function envWith(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extra };
  if (!('DF_NO_ADDON' in extra)) delete env['DF_NO_ADDON'];
  return env;
}

function dfgetTools(): Tool[] {
  const entry = dfgetEntry();
  const variants = [
    { name: 'dfget', digest: false, noAddon: false },
    { name: 'dfget --digest sha256', digest: true, noAddon: false },
    { name: 'dfget DF_NO_ADDON=1', digest: false, noAddon: true },
    { name: 'dfget --digest sha256 DF_NO_ADDON=1', digest: true, noAddon: true },
  ];
  return variants.map((variant) => ({
    name: variant.name,
    // process.execPath is the pinned Node 24 that runs this bench (system node cannot run .ts).
    command: process.execPath,
    args: (p) => [entry, p.url, '-O', p.output, '--no-progress', '--overwrite', ...(variant.digest ? ['--digest', `sha256:${p.sha256}`] : [])],
    env: (p) => envWith({ XDG_CACHE_HOME: p.cacheDir, ...(variant.noAddon ? { DF_NO_ADDON: '1' } : {}) }),
  }));
}

export function downloadTools(): ToolSet {
  const tools: Tool[] = [];
  const missing: { name: string; debianPackage: string }[] = [];
  const curl = findExecutable('curl');
  if (curl) {
    tools.push({ name: 'curl', command: curl, args: (p) => ['-s', '-o', p.output, p.url], env: () => envWith({}) });
    // What a user does to get a verified file with curl: download, then check the digest.
    tools.push({
      name: 'curl + sha256sum -c',
      command: '/bin/sh',
      args: (p) => ['-c', 'curl -s -o "$1" "$2" && echo "$3  $1" | sha256sum -c --quiet', 'sh', p.output, p.url, p.sha256],
      env: () => envWith({}),
    });
  } else {
    missing.push({ name: 'curl', debianPackage: 'curl' });
  }
  const aria2c = findExecutable('aria2c');
  if (aria2c) {
    tools.push({
      name: 'aria2c -x8 -s8 -k1M',
      command: aria2c,
      args: (p) => [
        '-x8', '-s8', '-k1M',
        '--file-allocation=none', '--allow-overwrite=true', '--console-log-level=warn', '--summary-interval=0',
        '-d', dirname(p.output), '-o', basename(p.output), p.url,
      ],
      env: () => envWith({}),
    });
  } else {
    missing.push({ name: 'aria2c', debianPackage: 'aria2' });
  }
  tools.push(...dfgetTools());
  return { tools, missing };
}
