/**
 * A private throwaway PostgreSQL server for tests: its own data directory in a temp dir, its own
 * port on 127.0.0.1, `trust` authentication for the `postgres` superuser, durability switched off
 * (fsync, synchronous_commit, full_page_writes) because the data dies with the test.
 *
 * Why it is started the way it is:
 * - initdb and postgres refuse to run as root, so both are spawned with the uid/gid of the
 *   `postgres` system user. Spawning the binary directly (not through runuser, su or pg_ctl, which
 *   fork) makes the child's PID the postmaster's own, so stopping by PID stops the server.
 * - Stop is SIGINT to that PID: PostgreSQL's "fast" shutdown, which ends every session, checkpoints
 *   and exits in well under a second. SIGTERM ("smart") would wait for clients the test may have
 *   leaked; SIGQUIT ("immediate") is kept for the process 'exit' handler, which cannot wait.
 * - postgres cannot listen on port 0 and report the port, so a random port in 20000-60000 is
 *   tried, and another one when the bind fails (another process holds it).
 * - Readiness is a real connect, retried every 50 ms, through the Unix socket in the private temp
 *   dir: only our postmaster can have created it, and it is created after the TCP socket is bound.
 *
 * Needs the Debian `postgresql` package (binaries under /usr/lib/postgresql/<version>/bin, the
 * newest version is used) and root or the `postgres` user. Without them `requirePostgres` skips
 * the test loudly, or fails it when `DF_E2E_REQUIRED=1`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, chownSync, constants, readdirSync, readFileSync, rmSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import type { TestContext } from 'vitest';
import { ToolError } from './registry/errors.ts';
import { e2eRequired } from './registry/tools.ts';

const PG_LIB = '/usr/lib/postgresql';
const PORT_MIN = 20_000;
const PORT_MAX = 60_000;

/** Bounds of every wait in this file. */
export const POSTGRES_DEFAULTS = Object.freeze({
  initdbTimeoutMs: 60_000,
  readyTimeoutMs: 20_000,
  readyPollMs: 50,
  portAttempts: 10,
  stopTimeoutMs: 10_000,
  exitHandlerWaitMs: 5_000,
});

/** A running server. `url(db)` and `createDatabase` give `postgres://postgres@127.0.0.1:<port>/<db>`. */
export interface PostgresServer {
  readonly pid: number;
  readonly port: number;
  /** The temp dir: data directory in `data/`, the Unix socket beside it. */
  readonly dir: string;
  readonly running: boolean;
  url(database: string): string;
  /** Creates an empty database and returns its URL. Names are lower-case SQL identifiers. */
  createDatabase(name: string): Promise<string>;
  /** Fast shutdown (SIGINT), wait for the exit, remove the dir. Safe to call twice. */
  stop(): Promise<void>;
}

export interface StartPostgresOptions {
  /** The next port to try; random in 20000-60000 unless given (tests of the bind retry hold one). */
  readonly nextPort?: () => number;
}

interface PgBinaries {
  readonly initdb: string;
  readonly postgres: string;
}

interface PostgresUser {
  readonly uid: number;
  readonly gid: number;
}

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** initdb and postgres of the newest installed major version, or undefined. */
export function findPostgresBinaries(): PgBinaries | undefined {
  let versions: string[];
  try {
    versions = readdirSync(PG_LIB);
  } catch {
    return undefined;
  }
  const sorted = versions.filter((name) => /^\d+(\.\d+)?$/.test(name)).sort((a, b) => Number(b) - Number(a));
  for (const version of sorted) {
    const bin = join(PG_LIB, version, 'bin');
    const found = { initdb: join(bin, 'initdb'), postgres: join(bin, 'postgres') };
    if (executable(found.initdb) && executable(found.postgres)) return found;
  }
  return undefined;
}

/** uid and gid of the `postgres` system user from /etc/passwd, or undefined. */
function postgresUser(): PostgresUser | undefined {
  let passwd: string;
  try {
    passwd = readFileSync('/etc/passwd', 'utf8');
  } catch {
    return undefined;
  }
  for (const line of passwd.split('\n')) {
    const [name, , uid, gid] = line.split(':');
    if (name === 'postgres' && uid && gid) return { uid: Number(uid), gid: Number(gid) };
  }
  return undefined;
}

/** Why a server cannot be started here, or undefined when it can. */
export function postgresUnavailableReason(): string | undefined {
  if (!findPostgresBinaries()) return `no initdb/postgres under ${PG_LIB}/*/bin: apt-get install postgresql`;
  const user = postgresUser();
  if (!user) return 'no postgres system user: apt-get install postgresql';
  const uid = process.geteuid?.();
  if (uid !== 0 && uid !== user.uid) return 'needs root (or the postgres user): initdb and postgres run as postgres';
  return undefined;
}

/** True when `startPostgres` can run here. */
export function postgresAvailable(): boolean {
  return postgresUnavailableReason() === undefined;
}

/**
 * For `describe.skipIf(...)` at a file's top level: false when a server can start; otherwise the
 * reason, printed to stderr, or a thrown DF_E2E_TOOL_MISSING when `DF_E2E_REQUIRED=1`.
 */
export function postgresSkipReason(): string | false {
  const reason = postgresUnavailableReason();
  if (reason === undefined) return false;
  if (e2eRequired()) throw new ToolError('DF_E2E_TOOL_MISSING', `PostgreSQL: ${reason} (DF_E2E_REQUIRED=1, so this fails instead of skipping)`);
  process.stderr.write(`\n*** POSTGRESQL TESTS SKIPPED: ${reason} ***\n`);
  return `PostgreSQL: ${reason}`;
}

/** Inside a test: true when a server can start; otherwise skips loudly, or throws when required. */
export function requirePostgres(t: TestContext): boolean {
  const reason = postgresUnavailableReason();
  if (reason === undefined) return true;
  const message = `PostgreSQL: ${reason}`;
  if (e2eRequired()) throw new ToolError('DF_E2E_TOOL_MISSING', `${message} (DF_E2E_REQUIRED=1, so this fails instead of skipping)`);
  process.stderr.write(`\n*** SKIPPED "${t.task.name}": ${message} ***\n`);
  return t.skip(message);
}

/** Keeps the last `limit` characters a process wrote, for error messages. */
function tail(child: ChildProcess, limit = 8_000): () => string {
  let text = '';
  const add = (chunk: string): void => {
    text = (text + chunk).slice(-limit);
  };
  child.stdout?.setEncoding('utf8').on('data', add);
  child.stderr?.setEncoding('utf8').on('data', add);
  return () => text;
}

function exitOf(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve({ code: child.exitCode, signal: child.signalCode });
    else child.once('exit', (code, signal) => resolve({ code, signal }));
  });
}

/**
 * Blocks until `pid` has exited or `timeoutMs` pass. In an 'exit' handler nothing reaps the child,
 * so an exited postmaster stays a zombie: state Z in /proc counts as gone.
 */
function waitForExitSync(pid: number, timeoutMs: number): void {
  const pause = new Int32Array(new SharedArrayBuffer(4));
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    } catch {
      return;
    }
    // The state follows the parenthesised command name, which may itself contain spaces.
    if (stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')) return;
    Atomics.wait(pause, 0, 0, 10);
  }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function initdb(bins: PgBinaries, user: PostgresUser, dir: string): Promise<void> {
  const child = spawn(bins.initdb, ['-D', join(dir, 'data'), '-A', 'trust', '-U', 'postgres', '-E', 'UTF8', '--locale=C.UTF-8', '--no-sync'], {
    uid: user.uid,
    gid: user.gid,
    cwd: dir,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LANG: 'C.UTF-8' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output = tail(child);
  const timer = setTimeout(() => child.kill('SIGKILL'), POSTGRES_DEFAULTS.initdbTimeoutMs);
  const exit = await exitOf(child);
  clearTimeout(timer);
  if (exit.signal === 'SIGKILL') throw new ToolError('DF_E2E_TOOL_TIMEOUT', `initdb ran past ${POSTGRES_DEFAULTS.initdbTimeoutMs} ms:\n${output()}`);
  if (exit.code !== 0) throw new ToolError('DF_E2E_TOOL_FAILED', `initdb exited ${JSON.stringify(exit)}:\n${output()}`);
}

function randomPort(): number {
  return PORT_MIN + Math.floor(Math.random() * (PORT_MAX - PORT_MIN));
}

/** One connect through the private Unix socket; true when the server answered a query. */
async function answers(dir: string, port: number): Promise<boolean> {
  const client = new pg.Client({ host: dir, port, user: 'postgres', database: 'postgres', connectionTimeoutMillis: 1_000 });
  // A refused connect also emits 'error' on the client; the rejected connect() is what we act on.
  client.on('error', () => {});
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

/**
 * Starts a server (initdb, then postgres on a free port) and waits until it answers. With `t` it
 * is stopped when the test ends; without, call `stop()` yourself (in `afterAll`). A process 'exit'
 * handler kills it (SIGQUIT) and removes its dir if the test process ends first.
 */
export async function startPostgres(t?: TestContext, options: StartPostgresOptions = {}): Promise<PostgresServer> {
  const nextPort = options.nextPort ?? randomPort;
  const reason = postgresUnavailableReason();
  if (reason !== undefined) throw new ToolError('DF_E2E_TOOL_MISSING', `PostgreSQL: ${reason}`);
  const bins = findPostgresBinaries()!;
  const user = postgresUser()!;

  const dir = await mkdtemp(join(tmpdir(), 'df-pg-'));
  try {
    chownSync(dir, user.uid, user.gid);
    await initdb(bins, user, dir);
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }

  const failures: string[] = [];
  for (let attempt = 0; attempt < POSTGRES_DEFAULTS.portAttempts; attempt++) {
    const port = nextPort();
    const child = spawn(
      bins.postgres,
      ['-D', join(dir, 'data'), '-k', dir, '-p', String(port), '-c', 'listen_addresses=127.0.0.1', '-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off'],
      { uid: user.uid, gid: user.gid, cwd: dir, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LANG: 'C.UTF-8' }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const output = tail(child);
    const exited = exitOf(child);
    const killOnExit = (): void => {
      // Only synchronous work is possible here: immediate shutdown, a blocking wait until the
      // postmaster has exited (its children are gone first), then the dir.
      child.kill('SIGQUIT');
      waitForExitSync(child.pid!, POSTGRES_DEFAULTS.exitHandlerWaitMs);
      try {
        rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
      } catch (error) {
        process.stderr.write(`test PostgreSQL: could not remove ${dir}: ${String(error)}\n`);
      }
    };
    process.on('exit', killOnExit);

    let up = false;
    let gone = false;
    void exited.then(() => (gone = true));
    const deadline = Date.now() + POSTGRES_DEFAULTS.readyTimeoutMs;
    while (!gone && Date.now() < deadline) {
      if (await answers(dir, port)) {
        up = true;
        break;
      }
      await sleep(POSTGRES_DEFAULTS.readyPollMs);
    }
    if (up && !gone) return server(t, child, exited, killOnExit, dir, port);

    if (!gone) {
      child.kill('SIGQUIT');
      await exited;
      process.off('exit', killOnExit);
      await rm(dir, { recursive: true, force: true });
      throw new ToolError('DF_E2E_START_FAILED', `postgres did not answer within ${POSTGRES_DEFAULTS.readyTimeoutMs} ms:\n${output()}`);
    }
    process.off('exit', killOnExit);
    if (!/could not bind|could not create any TCP\/IP sockets/.test(output())) {
      await rm(dir, { recursive: true, force: true });
      throw new ToolError('DF_E2E_START_FAILED', `postgres exited ${JSON.stringify(await exited)} before answering:\n${output()}`);
    }
    failures.push(`port ${port}: ${output().trim().split('\n').slice(-2).join(' / ')}`);
  }
  await rm(dir, { recursive: true, force: true });
  throw new ToolError('DF_E2E_START_FAILED', `postgres could not bind a port in ${POSTGRES_DEFAULTS.portAttempts} attempts:\n${failures.join('\n')}`);
}

function server(
  t: TestContext | undefined,
  child: ChildProcess,
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>,
  killOnExit: () => void,
  dir: string,
  port: number,
): PostgresServer {
  let running = true;
  void exited.then(() => (running = false));
  let stopping: Promise<void> | undefined;

  const stop = async (): Promise<void> => {
    if (running) {
      child.kill('SIGINT');
      // Fast shutdown takes well under a second; a server that hangs is forced, then killed.
      const force = setTimeout(() => child.kill('SIGQUIT'), POSTGRES_DEFAULTS.stopTimeoutMs);
      const kill = setTimeout(() => child.kill('SIGKILL'), 2 * POSTGRES_DEFAULTS.stopTimeoutMs);
      await exited;
      clearTimeout(force);
      clearTimeout(kill);
    }
    process.off('exit', killOnExit);
    await rm(dir, { recursive: true, force: true, maxRetries: 3 });
  };

  const url = (database: string): string => `postgres://postgres@127.0.0.1:${port}/${database}`;
  const handle: PostgresServer = {
    pid: child.pid!,
    port,
    dir,
    get running() {
      return running;
    },
    url,
    async createDatabase(name: string): Promise<string> {
      if (!/^[a-z_][a-z0-9_]{0,62}$/.test(name)) throw new ToolError('DF_E2E_BAD_ARGUMENT', `database name ${JSON.stringify(name)}: lower-case letters, digits, _`);
      const admin = new pg.Client({ connectionString: url('postgres') });
      await admin.connect();
      try {
        await admin.query(`CREATE DATABASE "${name}"`);
      } finally {
        await admin.end();
      }
      return url(name);
    },
    stop: () => (stopping ??= stop()),
  };
  t?.onTestFinished(() => handle.stop());
  return handle;
}
