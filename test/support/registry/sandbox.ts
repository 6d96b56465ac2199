/**
 * Keeps skopeo and podman inside the test's temp dir. Both read registries.conf, policy.json and
 * credentials from HOME or flags we control, but as root they also write their blob-info cache
 * to /var/lib/containers/cache (no flag or variable moves it in skopeo 1.9.3 / podman 4.3). So
 * as root they run in a private mount namespace whose /var/lib is a directory of the test; the
 * namespace also takes any overlay mount podman leaves behind with it when the process exits.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { check } from './errors.ts';
import { runCommand, type CommandResult } from './exec.ts';
import type { RegistryCredentials } from './registry.ts';
import { isRoot, onPath, TOOL } from './tools.ts';

/** A policy.json that accepts every image: the tests' images are unsigned. */
export const ACCEPT_ANYTHING_POLICY = '{"default":[{"type":"insecureAcceptAnything"}]}\n';

let mountNamespaceWorks: Promise<boolean> | undefined;

/** Whether this process may make a private mount namespace and bind-mount in it (root, CAP_SYS_ADMIN). */
function canIsolate(): Promise<boolean> {
  mountNamespaceWorks ??= (async () => {
    if (!isRoot() || !onPath(TOOL.unshare.bin)) return false;
    const result = await runCommand(TOOL.unshare.bin, ['--mount', '--propagation', 'private', '--', 'true'], { timeoutMs: 10_000 });
    return result.code === 0;
  })();
  return mountNamespaceWorks;
}

/**
 * Prepares `home` for a containers-image tool: HOME, XDG dirs and policy.json inside it, and
 * `home/var-lib` as the private /var/lib. Returns the env and the policy path.
 */
export async function prepareHome(home: string): Promise<{ env: NodeJS.ProcessEnv; policy: string; varLib: string }> {
  const varLib = join(home, 'var-lib');
  await mkdir(join(home, '.config', 'containers'), { recursive: true });
  await mkdir(varLib, { recursive: true });
  const policy = join(home, 'policy.json');
  await writeFile(policy, ACCEPT_ANYTHING_POLICY);
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: home,
    XDG_CONFIG_HOME: join(home, '.config'),
    XDG_DATA_HOME: join(home, '.local', 'share'),
    XDG_CACHE_HOME: join(home, '.cache'),
    XDG_RUNTIME_DIR: join(home, 'run'),
    TMPDIR: join(home, 'tmp'),
  };
  await mkdir(env.XDG_RUNTIME_DIR!, { recursive: true, mode: 0o700 });
  await mkdir(env.TMPDIR!, { recursive: true });
  return { env, policy, varLib };
}

/**
 * Writes a containers-auth.json giving each `host:port` its credentials, and returns its path.
 * Unlike `--creds`, which containers/image sends only to the image's own registry (never to a
 * mirror), these are looked up by the host actually contacted, mirrors included.
 */
export async function writeAuthFile(path: string, credentials: Readonly<Record<string, RegistryCredentials>>): Promise<string> {
  const auths: Record<string, { auth: string }> = {};
  for (const [host, { user, password }] of Object.entries(credentials)) {
    check(/^[A-Za-z0-9.-]+(?::\d+)?$/.test(host), `auth file keys must be host[:port], got ${JSON.stringify(host)}`);
    auths[host] = { auth: Buffer.from(`${user}:${password}`).toString('base64') };
  }
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, `${JSON.stringify({ auths }, null, 2)}\n`, { mode: 0o600 });
  return path;
}

/**
 * Runs `bin args` with `env`, in a private mount namespace with `varLib` over /var/lib when
 * possible (see the module comment); otherwise directly (a non-root user's cache is under HOME).
 */
export async function runContained(
  bin: string,
  args: readonly string[],
  options: { env: NodeJS.ProcessEnv; varLib: string; timeoutMs?: number | undefined },
): Promise<CommandResult> {
  if (!(await canIsolate())) return runCommand(bin, args, options);
  // unshare execs sh, which execs the tool: the PID we time out and kill is the tool's.
  const script = 'mount --bind "$0" /var/lib && exec "$@"';
  const wrapped = ['--mount', '--propagation', 'private', '--', 'sh', '-c', script, options.varLib, bin, ...args];
  return runCommand(TOOL.unshare.bin, wrapped, options);
}
