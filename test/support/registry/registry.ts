/**
 * A private docker-registry (distribution 2.8) on 127.0.0.1: its own config, storage under the
 * test's dir, optional htpasswd basic auth, and its access log parsed so a test counts exactly
 * which manifests and blobs were fetched from it.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { isAbsolute, join } from 'node:path';
import type { TestContext } from 'vitest';
import { setTimeout as sleep } from 'node:timers/promises';
import { closedPort, waitFor } from '../temp.ts';
import { blobBytesServed, blobGetCounts, parseAccessLine, type RegistryRequest } from './access-log.ts';
import { deferCleanup } from './cleanup.ts';
import { check, ToolError } from './errors.ts';
import { BackgroundProcess, mustSucceed, runCommand, tail } from './exec.ts';
import { TOOL } from './tools.ts';

export interface RegistryCredentials {
  readonly user: string;
  readonly password: string;
}

export interface RegistryOptions {
  /** Holds config.yml, htpasswd and the blob storage; must exist or be creatable. */
  readonly dir: string;
  /** Turns on htpasswd basic auth with this one user (needs `htpasswd` from apache2-utils). */
  readonly auth?: RegistryCredentials | undefined;
  /** How long to wait for `/v2/` to answer; default 15 s. */
  readonly readyTimeoutMs?: number | undefined;
}

export interface RunningRegistry {
  /** `127.0.0.1:PORT`, the registry part of image references. */
  readonly host: string;
  /** `http://127.0.0.1:PORT` */
  readonly url: string;
  readonly port: number;
  readonly pid: number;
  readonly auth: RegistryCredentials | undefined;
  /** Requests logged since start or the last `clearLog()`, oldest first (readiness probes left out). */
  requests(): RegistryRequest[];
  /** Bytes of 2xx blob GETs, of one digest or all. */
  blobBytesServed(digest?: string): number;
  /** GETs per blob digest, any status. */
  blobGets(): Map<string, number>;
  /** Forgets the requests logged so far. */
  clearLog(): void;
  /**
   * Sends a marker request and waits for its log line, so that requests which completed before
   * are in `requests()` too: the registry writes a line after the response, which a client may
   * have read in full already.
   */
  settle(timeoutMs?: number): Promise<void>;
  /** The registry's stderr (JSON log lines), for failure messages. */
  stderr(): string;
  stop(): Promise<void>;
}

const START_ATTEMPTS = 5;
const PROBE_USER_AGENT = 'df-e2e-probe';

/** JSON is YAML too, and saves quoting paths by hand. */
function registryConfig(dir: string, port: number, auth: boolean): string {
  return JSON.stringify(
    {
      version: '0.1',
      // The access log on stdout is the one with every request (see access-log.ts).
      log: { level: 'info', formatter: 'json', accesslog: { disabled: false } },
      storage: {
        filesystem: { rootdirectory: join(dir, 'storage') },
        delete: { enabled: true },
        maintenance: { uploadpurging: { enabled: false } },
      },
      // A fixed secret keeps the "no HTTP secret" warning out of the log.
      http: { addr: `127.0.0.1:${port}`, secret: randomBytes(16).toString('hex') },
      ...(auth ? { auth: { htpasswd: { realm: 'df-e2e', path: join(dir, 'htpasswd') } } } : {}),
    },
    null,
    2,
  );
}

/** The child's environment without REGISTRY_* variables, which would override the config file. */
function registryEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('REGISTRY_')));
}

/** GETs `/v2/` marked as ours; resolves the status, or undefined while nothing answers. */
function probe(port: number, marker: string): Promise<number | undefined> {
  return new Promise((resolve) => {
    const req = request(
      { host: '127.0.0.1', port, path: `/v2/?df-e2e-marker=${marker}`, headers: { 'user-agent': PROBE_USER_AGENT }, timeout: 2_000 },
      (res) => {
        res.resume();
        res.once('end', () => resolve(res.statusCode));
      },
    );
    req.once('timeout', () => req.destroy());
    req.once('error', () => resolve(undefined));
    req.end();
  });
}

/** Writes a bcrypt htpasswd file the registry accepts (`htpasswd -B`, apache2-utils). */
export async function writeHtpasswd(path: string, credentials: RegistryCredentials): Promise<void> {
  check(/^[^:\s]+$/.test(credentials.user), `registry user must be non-empty without ':' or spaces, got ${JSON.stringify(credentials.user)}`);
  check(credentials.password.length > 0, 'registry password must not be empty');
  const args = ['-B', '-b', '-c', path, credentials.user, credentials.password];
  mustSucceed(await runCommand(TOOL.htpasswd.bin, args, { timeoutMs: 10_000 }), 'htpasswd');
}

/**
 * Starts docker-registry on a free 127.0.0.1 port (retrying when another process takes the
 * port first), waits until `/v2/` answers and its access line shows, and stops it by PID when
 * the test ends.
 */
export async function startRegistry(t: TestContext, options: RegistryOptions): Promise<RunningRegistry> {
  check(isAbsolute(options.dir), `registry dir must be an absolute path, got ${JSON.stringify(options.dir)}`);
  await mkdir(join(options.dir, 'storage'), { recursive: true });
  if (options.auth) await writeHtpasswd(join(options.dir, 'htpasswd'), options.auth);
  const configPath = join(options.dir, 'config.yml');
  let lastFailure = '';
  for (let attempt = 1; attempt <= START_ATTEMPTS; attempt++) {
    const port = await closedPort();
    await writeFile(configPath, registryConfig(options.dir, port, options.auth !== undefined));
    let log: RegistryRequest[] = [];
    const proc = new BackgroundProcess('docker-registry', TOOL.registry.bin, ['serve', configPath], {
      env: registryEnv(),
      cwd: options.dir,
      onLine: (line, stream) => {
        if (stream !== 'stdout') return;
        const parsed = parseAccessLine(line);
        if (parsed) log.push(parsed);
      },
    });
    deferCleanup(t, () => proc.stop());
    let markers = 0;
    const awaitMarker = async (timeoutMs: number): Promise<void> => {
      const marker = `${++markers}`;
      const deadline = Date.now() + timeoutMs;
      const seen = () => log.some((r) => r.userAgent === PROBE_USER_AGENT && r.query === `df-e2e-marker=${marker}`);
      while (!seen()) {
        if (!proc.running) throw new ToolError('DF_E2E_START_FAILED', `docker-registry exited; stderr:\n${tail(proc.stderr)}`);
        if (Date.now() > deadline) throw new ToolError('DF_E2E_START_FAILED', `docker-registry on port ${port} did not log /v2/ within ${timeoutMs} ms`);
        if ((await probe(port, marker)) === undefined) {
          await sleep(50);
        } else {
          // A line not logged within 2 s is retried with a second probe of the same marker.
          await waitFor('the probe access line', () => seen() || !proc.running, 2_000).catch(() => undefined);
        }
      }
    };
    try {
      await awaitMarker(options.readyTimeoutMs ?? 15_000);
    } catch (error) {
      await proc.stop();
      lastFailure = (error as Error).message;
      if (/address already in use/.test(proc.stderr) && attempt < START_ATTEMPTS) continue;
      throw error;
    }
    log = [];
    const registry: RunningRegistry = {
      host: `127.0.0.1:${port}`,
      url: `http://127.0.0.1:${port}`,
      port,
      pid: proc.pid!,
      auth: options.auth,
      requests: () => log.filter((r) => r.userAgent !== PROBE_USER_AGENT),
      blobBytesServed: (digest) => blobBytesServed(registry.requests(), digest),
      blobGets: () => blobGetCounts(registry.requests()),
      clearLog: () => {
        log = [];
      },
      settle: (timeoutMs = 10_000) => awaitMarker(timeoutMs),
      stderr: () => proc.stderr,
      stop: () => proc.stop(),
    };
    return registry;
  }
  throw new ToolError('DF_E2E_START_FAILED', `docker-registry did not start in ${START_ATTEMPTS} attempts: ${lastFailure}`);
}
