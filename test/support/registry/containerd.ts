/**
 * A private containerd (root, state, sockets and the opt dir under the test's dir; CRI and
 * metrics off) and `ctr` pulls through a `certs.d`-style hosts dir, as container hosts use a
 * registry mirror. containerd checks the digest of everything it pulls, so a pull that succeeds
 * proves the bytes were right.
 */
import { mkdir, readdir, rm, rmdir, writeFile } from 'node:fs/promises';
import { isAbsolute, join } from 'node:path';
import type { TestContext } from 'vitest';
import { setTimeout as sleep } from 'node:timers/promises';
import { deferCleanup } from './cleanup.ts';
import { check, ToolError } from './errors.ts';
import { BackgroundProcess, mustSucceed, runCommand, tail, unmountUnder, type CommandResult } from './exec.ts';
import { TOOL } from './tools.ts';

/** ctr and the runc shim create entries here even when containerd's state dir is elsewhere. */
const SYSTEM_RUN_DIR = '/run/containerd';
const READY_TIMEOUT_MS = 20_000;
const DEFAULT_PULL_TIMEOUT_MS = 120_000;

export interface CtrPullOptions {
  /** A `certs.d`-style directory: `HOSTS/<registry host>/hosts.toml` (see `writeHostsToml`). */
  readonly hostsDir: string;
  /** `user:password` for basic auth. */
  readonly user?: string | undefined;
  /** `--plain-http`: talk HTTP to a registry that has no hosts.toml entry. */
  readonly plainHttp?: boolean | undefined;
  readonly timeoutMs?: number | undefined;
}

export interface RunningContainerd {
  /** The gRPC socket, for `ctr -a`. */
  readonly socket: string;
  readonly pid: number;
  /** `ctr -a SOCK images pull --hosts-dir HOSTS [--plain-http] [--user u:p] REF`; never rejects for a failed pull. */
  pull(ref: string, options: CtrPullOptions): Promise<CommandResult>;
  /** Digests of `ref`'s manifest (and index), config and layers that are in the content store. */
  imageContentDigests(ref: string): Promise<string[]>;
  /** Removes the image and, synchronously, the content only it used, so the next pull fetches again. */
  removeImage(ref: string): Promise<void>;
  /** Runs any `ctr` subcommand against this containerd. */
  ctr(args: readonly string[], timeoutMs?: number): Promise<CommandResult>;
  /** containerd's own log, for failure messages. */
  log(): string;
  stop(): Promise<void>;
}

/** TOML for a private containerd whose every path is under `dir`. */
function containerdConfig(dir: string, socket: string): string {
  const q = (text: string) => JSON.stringify(text);
  return `version = 2
root = ${q(join(dir, 'root'))}
state = ${q(join(dir, 'state'))}
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = ${q(socket)}
[ttrpc]
  address = ${q(`${socket}.ttrpc`)}
[debug]
  level = "info"
[metrics]
  address = ""
[plugins."io.containerd.internal.v1.opt"]
  path = ${q(join(dir, 'opt'))}
`;
}

/** The environment for containerd and ctr, without CONTAINERD_* variables that would redirect ctr. */
function ctrEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('CONTAINERD_')));
}

async function listDir(dir: string): Promise<Set<string> | undefined> {
  try {
    return new Set(await readdir(dir));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/** Removes what appeared in /run/containerd since `before`, and the dir itself if we made it and it is empty. */
async function removeNewRunEntries(before: Set<string> | undefined): Promise<void> {
  const now = await listDir(SYSTEM_RUN_DIR);
  if (!now) return;
  for (const name of now) {
    if (!before?.has(name)) await rm(join(SYSTEM_RUN_DIR, name), { recursive: true, force: true });
  }
  if (!before) await rmdir(SYSTEM_RUN_DIR).catch(() => undefined); // not empty: someone else's containerd uses it
}

const MANIFEST_TYPES = new Set(['application/vnd.oci.image.manifest.v1+json', 'application/vnd.docker.distribution.manifest.v2+json']);
const INDEX_TYPES = new Set(['application/vnd.oci.image.index.v1+json', 'application/vnd.docker.distribution.manifest.list.v2+json']);

/**
 * Starts containerd with the private config (ready when `ctr version` answers) and stops it by
 * PID when the test ends, then unmounts what it left under `dir` and removes the
 * /run/containerd entries that were not there before it started.
 */
export async function startContainerd(t: TestContext, dir: string): Promise<RunningContainerd> {
  check(isAbsolute(dir), `containerd dir must be an absolute path, got ${JSON.stringify(dir)}`);
  // A unix socket path is limited to 107 bytes.
  const socket = join(dir, 'containerd.sock');
  check(Buffer.byteLength(`${socket}.ttrpc`) < 108, `containerd dir is too long for a unix socket path: ${dir}`);
  await mkdir(dir, { recursive: true });
  const configPath = join(dir, 'config.toml');
  await writeFile(configPath, containerdConfig(dir, socket));
  const runBefore = await listDir(SYSTEM_RUN_DIR);
  const env = ctrEnv();
  const proc = new BackgroundProcess('containerd', TOOL.containerd.bin, ['--config', configPath], { env, cwd: dir });
  deferCleanup(t, async () => {
    await proc.stop();
    await unmountUnder(dir);
    await removeNewRunEntries(runBefore);
  });

  const ctr = (args: readonly string[], timeoutMs = 30_000) => runCommand(TOOL.ctr.bin, ['-a', socket, ...args], { env, timeoutMs });
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    if (!proc.running) throw new ToolError('DF_E2E_START_FAILED', `containerd exited; log:\n${tail(proc.stderr)}`);
    if ((await ctr(['version'], 5_000)).code === 0) break;
    if (Date.now() > deadline) throw new ToolError('DF_E2E_START_FAILED', `containerd not ready within ${READY_TIMEOUT_MS} ms; log:\n${tail(proc.stderr)}`);
    await sleep(100);
  }

  const targetDigest = async (ref: string): Promise<string> => {
    const listing = mustSucceed(await ctr(['images', 'ls']), 'ctr images ls').stdout;
    // Columns: REF TYPE DIGEST SIZE PLATFORMS LABELS
    for (const line of listing.split('\n').slice(1)) {
      const [name, , digest] = line.trim().split(/\s+/);
      if (name === ref && digest) return digest;
    }
    throw new ToolError('DF_E2E_BAD_OUTPUT', `containerd has no image ${ref}; ctr images ls:\n${tail(listing)}`);
  };

  return {
    socket,
    pid: proc.pid!,
    ctr,
    log: () => proc.stderr,
    stop: () => proc.stop(),
    async pull(ref, options) {
      check(options.user === undefined || options.user.includes(':'), 'ctr --user must be user:password (without the password ctr would prompt)');
      const args = ['images', 'pull', '--hosts-dir', options.hostsDir];
      if (options.plainHttp) args.push('--plain-http');
      if (options.user !== undefined) args.push('--user', options.user);
      args.push(ref);
      return ctr(args, options.timeoutMs ?? DEFAULT_PULL_TIMEOUT_MS);
    },
    async imageContentDigests(ref) {
      const stored = new Set(mustSucceed(await ctr(['content', 'ls', '-q']), 'ctr content ls').stdout.split('\n').filter(Boolean));
      const found: string[] = [];
      const walk = async (digest: string): Promise<void> => {
        if (!stored.has(digest)) return;
        found.push(digest);
        const body = mustSucceed(await ctr(['content', 'get', digest]), `ctr content get ${digest}`).stdout;
        let doc: { mediaType?: string; manifests?: Array<{ digest: string }>; config?: { digest: string }; layers?: Array<{ digest: string }> };
        try {
          doc = JSON.parse(body);
        } catch (error) {
          throw new ToolError('DF_E2E_BAD_OUTPUT', `content ${digest} of ${ref} is not JSON`, { cause: error });
        }
        const isIndex = INDEX_TYPES.has(doc.mediaType ?? '') || (doc.mediaType === undefined && Array.isArray(doc.manifests));
        if (isIndex) {
          for (const child of doc.manifests ?? []) await walk(child.digest);
        } else if (MANIFEST_TYPES.has(doc.mediaType ?? '') || doc.config) {
          for (const blob of [doc.config, ...(doc.layers ?? [])]) {
            if (blob && stored.has(blob.digest)) found.push(blob.digest);
          }
        }
      };
      await walk(await targetDigest(ref));
      return found;
    },
    async removeImage(ref) {
      mustSucceed(await ctr(['images', 'rm', '--sync', ref]), `ctr images rm ${ref}`);
    },
  };
}

export interface HostsTomlOptions {
  /** The upstream, e.g. `http://127.0.0.1:5000`; containerd falls back to it when the mirror fails. */
  readonly server?: string | undefined;
  /** A mirror tried first for pull and resolve, e.g. dfdaemon's proxy `http://127.0.0.1:4001`. */
  readonly mirror?: string | undefined;
  /** Headers containerd sends to the mirror, e.g. `X-Dragonfly-Registry`. */
  readonly headers?: Readonly<Record<string, string>> | undefined;
}

/**
 * Writes `HOSTS/<registryHost>/hosts.toml` telling containerd where to pull `registryHost`'s
 * images from: `server` and/or a mirror host with capabilities pull + resolve. Returns its path.
 */
export async function writeHostsToml(hostsDir: string, registryHost: string, options: HostsTomlOptions): Promise<string> {
  check(/^[A-Za-z0-9.-]+(?::\d+)?$/.test(registryHost), `registry host must be host[:port], got ${JSON.stringify(registryHost)}`);
  check(options.server !== undefined || options.mirror !== undefined, 'hosts.toml needs a server or a mirror');
  for (const url of [options.server, options.mirror]) {
    check(url === undefined || /^https?:\/\/[^/\s]+\/?$/.test(url), `server and mirror must be http(s)://host[:port], got ${JSON.stringify(url)}`);
  }
  const headers = Object.entries(options.headers ?? {});
  check(options.mirror !== undefined || headers.length === 0, 'headers are sent to the mirror: give a mirror');
  for (const [name] of headers) check(/^[A-Za-z0-9-]+$/.test(name), `not an HTTP header name: ${JSON.stringify(name)}`);
  const q = (text: string) => JSON.stringify(text);
  const lines: string[] = [];
  if (options.server !== undefined) lines.push(`server = ${q(options.server)}`);
  if (options.mirror !== undefined) {
    lines.push(`[host.${q(options.mirror)}]`, '  capabilities = ["pull", "resolve"]');
    if (headers.length > 0) {
      lines.push(`  [host.${q(options.mirror)}.header]`);
      for (const [name, value] of headers) lines.push(`    ${q(name)} = [${q(value)}]`);
    }
  }
  const dir = join(hostsDir, registryHost);
  await mkdir(dir, { recursive: true });
  const path = join(dir, 'hosts.toml');
  await writeFile(path, `${lines.join('\n')}\n`);
  return path;
}
