/**
 * The console's test rig: the console built from source, a real manager in this process (SQLite in
 * a temp dir, REST and gRPC on loopback port 0) and a directory for screenshots that outlives the
 * test (its path is printed), so a person can look at what the browser showed.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdir, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'vitest';
import { createLogger } from '../../api/index.ts';
import { resolveManagerConfig, ROOT_USER, startManager, type RunningManager } from '../../manager/index.ts';
import { tempDir } from '../support/temp.ts';

const CONSOLE_BUILD = join(import.meta.dirname, '..', '..', 'manager', 'console', 'build.ts');
export const ROOT_PASSWORD = 'console-root-password';

export interface ConsoleRig {
  readonly dir: string;
  readonly manager: RunningManager;
  readonly base: string;
  readonly shots: string;
  /** A root sign-in token for REST calls made by the test itself. */
  readonly rootJwt: string;
}

export async function rest<T = unknown>(base: string, method: string, path: string, token?: string, body?: unknown): Promise<{ status: number; json: T }> {
  const response = await fetch(`${base}${path}`, {
    method,
    headers: { ...(token && { authorization: `Bearer ${token}` }), ...(body !== undefined && { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(10_000),
  });
  const text = await response.text();
  return { status: response.status, json: (text ? JSON.parse(text) : undefined) as T };
}

export async function signIn(base: string, name: string, password: string): Promise<string> {
  const answer = await rest<{ token: string }>(base, 'POST', '/api/v1/users/signin', undefined, { name, password });
  assert.equal(answer.status, 200);
  return answer.json.token;
}

export async function startConsoleRig(t: TestContext, name: string, config: Record<string, unknown> = {}): Promise<ConsoleRig> {
  // The console as its source is now, built the way `npm install` builds it.
  await promisify(execFile)(process.execPath, [CONSOLE_BUILD], { timeout: 60_000 });
  const dir = await tempDir(t, `df-console-${name}-`);
  const shots = await mkdtemp(join(tmpdir(), `df-console-shots-${name}-`));
  process.stderr.write(`console screenshots (${name}): ${shots}\n`);
  const resolved = resolveManagerConfig({
    server: { rest: { listenIP: '127.0.0.1', port: 0 }, grpc: { listenIP: '127.0.0.1', port: 0 }, dataDir: join(dir, 'manager') },
    auth: { rootPassword: ROOT_PASSWORD },
    ...config,
  });
  await mkdir(resolved.server.dataDir, { recursive: true });
  const manager = await startManager(resolved, { log: createLogger('warn', () => {}) });
  t.onTestFinished(() => manager.close());
  const base = `http://127.0.0.1:${manager.restPort}`;
  return { dir, manager, base, shots, rootJwt: await signIn(base, ROOT_USER, ROOT_PASSWORD) };
}
