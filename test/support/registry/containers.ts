/**
 * skopeo and podman as registry clients (containers/image 5.23): a registries.conf with a dead
 * primary and a mirror, and pulls that read nothing of the machine's container config and write
 * nothing outside the test's dirs (see sandbox.ts).
 *
 * skopeo 1.9.3 ignores CONTAINERS_REGISTRIES_CONF and reads `$HOME/.config/containers/registries.conf`;
 * podman honours the variable.
 */
import { createHash } from 'node:crypto';
import { copyFile, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { isAbsolute, join } from 'node:path';
import { check } from './errors.ts';
import { unmountUnder, type CommandResult } from './exec.ts';
import type { RegistryCredentials } from './registry.ts';
import { prepareHome, runContained, writeAuthFile } from './sandbox.ts';
import { TOOL } from './tools.ts';

const DEFAULT_PULL_TIMEOUT_MS = 120_000;

export interface RegistriesConfOptions {
  /** The image-name prefix this entry applies to, e.g. `127.0.0.1:5999`. */
  readonly prefix: string;
  /** The primary location; a dead port here makes a successful pull prove the mirror served it. */
  readonly location: string;
  /** The mirror's `host:port` (no scheme), tried before `location`. */
  readonly mirror: string;
}

const HOST_PORT = /^[A-Za-z0-9.-]+(?::\d+)?(?:\/[A-Za-z0-9._/-]*)?$/;

/** Writes `dir/registries.conf`: one registry with one mirror, both insecure (plain HTTP). Returns its path. */
export async function writeRegistriesConf(dir: string, options: RegistriesConfOptions): Promise<string> {
  for (const [what, value] of Object.entries(options)) {
    check(HOST_PORT.test(value), `registries.conf ${what} must be host[:port][/path] without a scheme, got ${JSON.stringify(value)}`);
  }
  const q = (text: string) => JSON.stringify(text);
  const text = `unqualified-search-registries = []

[[registry]]
prefix = ${q(options.prefix)}
location = ${q(options.location)}
insecure = true

[[registry.mirror]]
location = ${q(options.mirror)}
insecure = true
`;
  await mkdir(dir, { recursive: true });
  const path = join(dir, 'registries.conf');
  await writeFile(path, text);
  return path;
}

function credsArgs(flag: string, creds: RegistryCredentials | undefined): string[] {
  return creds ? [flag, `${creds.user}:${creds.password}`] : [];
}

export interface SkopeoPullOptions {
  /** skopeo's private HOME; its policy.json and blob-info cache live there too. */
  readonly home: string;
  /** `dir:/path` or `oci:/path[:tag]`. */
  readonly dest: string;
  /** Installed as `HOME/.config/containers/registries.conf` before the pull. */
  readonly registriesConf?: string | undefined;
  /** `--src-creds`: sent to the image's own registry only, never to a mirror (containers/image's rule). */
  readonly creds?: RegistryCredentials | undefined;
  /** Credentials per `host:port` in an auth file; the way to authenticate to a mirror. */
  readonly authFile?: Readonly<Record<string, RegistryCredentials>> | undefined;
  readonly timeoutMs?: number | undefined;
}

/**
 * `skopeo copy docker://REF DEST` with `--src-tls-verify=false` (registries here speak plain
 * HTTP; for an insecure host skopeo first tries TLS, then falls back to HTTP). Never rejects for
 * a failed pull: check `code` and `stderr`.
 */
export async function skopeoPull(ref: string, options: SkopeoPullOptions): Promise<CommandResult> {
  check(isAbsolute(options.home), `skopeo home must be an absolute path, got ${JSON.stringify(options.home)}`);
  check(/^(dir|oci):\//.test(options.dest), `skopeo dest must be dir:/path or oci:/path[:tag], got ${JSON.stringify(options.dest)}`);
  const { env, policy, varLib } = await prepareHome(options.home);
  if (options.registriesConf) await copyFile(options.registriesConf, join(options.home, '.config', 'containers', 'registries.conf'));
  const args = ['--policy', policy, 'copy', '--src-tls-verify=false', ...credsArgs('--src-creds', options.creds)];
  if (options.authFile) args.push('--src-authfile', await writeAuthFile(join(options.home, 'auth.json'), options.authFile));
  args.push(`docker://${ref}`, options.dest);
  return runContained(TOOL.skopeo.bin, args, { env, varLib, timeoutMs: options.timeoutMs ?? DEFAULT_PULL_TIMEOUT_MS });
}

export type PodmanStorageDriver = 'overlay' | 'vfs';

export interface PodmanPullOptions {
  /** Holds podman's root (`dir/root`), runroot, tmpdir and private HOME. */
  readonly dir: string;
  /** Given to podman as CONTAINERS_REGISTRIES_CONF. */
  readonly registriesConf?: string | undefined;
  /** `--creds`: sent to the image's own registry only, never to a mirror (containers/image's rule). */
  readonly creds?: RegistryCredentials | undefined;
  /** Credentials per `host:port` in an auth file; the way to authenticate to a mirror. */
  readonly authFile?: Readonly<Record<string, RegistryCredentials>> | undefined;
  /** Default overlay; vfs copies every layer in full but needs no kernel overlay support. */
  readonly storageDriver?: PodmanStorageDriver | undefined;
  readonly timeoutMs?: number | undefined;
}

export interface PodmanPullResult extends CommandResult {
  /** The driver the pull ran with: `vfs` when overlay was asked for but the kernel refused it. */
  readonly storageDriver: PodmanStorageDriver;
}

/** Errors by which podman says overlay cannot work here (no kernel support, nested overlay). */
const OVERLAY_UNSUPPORTED = /overlay.*(not supported|unsupported|backing file system is unsupported)|driver not supported/i;

/** podman refuses a runroot path longer than this ("the specified runroot is longer than 50 characters"). */
const PODMAN_RUNROOT_MAX_CHARS = 50;

/**
 * `dir/runroot` when short enough, else a short dir named after `dir`'s hash, removed after the
 * pull. It must be the same path on every pull into `dir`: podman's database remembers it and
 * refuses a different one. runroot holds only locks and mount counts, and nothing stays mounted
 * between our podman runs.
 */
async function podmanRunroot(dir: string): Promise<{ path: string; dispose: () => Promise<void> }> {
  const inside = join(dir, 'runroot');
  if (inside.length <= PODMAN_RUNROOT_MAX_CHARS) return { path: inside, dispose: async () => undefined };
  const short = join(tmpdir(), `dfpr-${createHash('sha256').update(dir).digest('hex').slice(0, 16)}`);
  check(short.length <= PODMAN_RUNROOT_MAX_CHARS, `podman needs a runroot of at most 50 characters; the temp dir ${tmpdir()} is too long`);
  await mkdir(short, { recursive: true, mode: 0o700 });
  return { path: short, dispose: () => rm(short, { recursive: true, force: true }) };
}

async function podmanPullWith(ref: string, options: PodmanPullOptions, driver: PodmanStorageDriver): Promise<CommandResult> {
  const { dir } = options;
  const { env, policy, varLib } = await prepareHome(join(dir, 'home'));
  if (options.registriesConf) env.CONTAINERS_REGISTRIES_CONF = options.registriesConf;
  const runroot = await podmanRunroot(dir);
  const args = [
    '--root', join(dir, 'root'),
    '--runroot', runroot.path,
    '--tmpdir', join(dir, 'libpod-tmp'),
    '--storage-driver', driver,
    '--cgroup-manager', 'cgroupfs',
    '--events-backend', 'file',
    'pull', '--signature-policy', policy,
    ...credsArgs('--creds', options.creds),
  ];
  if (options.authFile) args.push('--authfile', await writeAuthFile(join(dir, 'home', 'auth.json'), options.authFile));
  args.push(ref);
  try {
    return await runContained(TOOL.podman.bin, args, { env, varLib, timeoutMs: options.timeoutMs ?? DEFAULT_PULL_TIMEOUT_MS });
  } finally {
    // podman bind-mounts root/overlay onto itself; outside a private mount namespace it stays.
    await unmountUnder(dir);
    await unmountUnder(runroot.path);
    await runroot.dispose();
  }
}

/**
 * `podman pull REF` as root with its storage, runroot, tmpdir and HOME under `dir` (cgroupfs,
 * file events, no system config). Falls back to the vfs driver, and says so on stderr and in
 * the result, when overlay is asked for and the kernel refuses it. Leaves nothing mounted; the
 * storage stays for inspection until `removePodmanStorage` or the test's temp dir removal.
 */
export async function podmanPull(ref: string, options: PodmanPullOptions): Promise<PodmanPullResult> {
  check(isAbsolute(options.dir), `podman dir must be an absolute path, got ${JSON.stringify(options.dir)}`);
  const driver = options.storageDriver ?? 'overlay';
  const result = await podmanPullWith(ref, options, driver);
  if (driver === 'overlay' && result.code !== 0 && OVERLAY_UNSUPPORTED.test(result.stderr)) {
    process.stderr.write(`podman: overlay storage is not possible here, pulling ${ref} with vfs instead\n`);
    await removePodmanStorage(options.dir);
    return { ...(await podmanPullWith(ref, options, 'vfs')), storageDriver: 'vfs' };
  }
  return { ...result, storageDriver: driver };
}

/** Unmounts whatever podman left under `dir` and removes its root, runroot and tmpdir. */
export async function removePodmanStorage(dir: string): Promise<void> {
  await unmountUnder(dir);
  for (const sub of ['root', 'runroot', 'libpod-tmp']) await rm(join(dir, sub), { recursive: true, force: true });
}
