/**
 * The test PostgreSQL server (test/support/postgres.ts) does what the manager's database tests
 * rely on: separate databases, LISTEN/NOTIFY between connections, row claiming with
 * FOR UPDATE SKIP LOCKED, and a stop that leaves no process and no directory behind.
 */
import { afterAll, beforeAll, describe, test } from 'vitest';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import pg from 'pg';
import { postgresSkipReason, startPostgres, type PostgresServer } from '../support/postgres.ts';
import { waitFor } from '../support/temp.ts';

const HELPER = pathToFileURL(join(import.meta.dirname, '..', 'support', 'postgres.ts')).href;

const skip = postgresSkipReason();

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw error;
  }
}

describe.skipIf(skip)('a private PostgreSQL server', () => {
  let server: PostgresServer;
  const clients: pg.Client[] = [];

  beforeAll(async () => {
    server = await startPostgres();
  });
  afterAll(async () => {
    await Promise.all(clients.map((client) => client.end().catch(() => {})));
    await server?.stop();
  });

  /** Errors an idle connection reported (a server shutdown ends sessions with 57P01). */
  const sessionErrors = new Map<pg.Client, Array<{ code?: string }>>();

  async function connect(url: string): Promise<pg.Client> {
    const client = new pg.Client({ connectionString: url });
    clients.push(client);
    sessionErrors.set(client, []);
    client.on('error', (error: Error & { code?: string }) => {
      sessionErrors.get(client)!.push(error);
    });
    await client.connect();
    return client;
  }

  test('two databases, each answering on 127.0.0.1 and separate from the other', async () => {
    const urlA = await server.createDatabase('smoke_a');
    const urlB = await server.createDatabase('smoke_b');
    assert.equal(urlA, `postgres://postgres@127.0.0.1:${server.port}/smoke_a`);
    const a = await connect(urlA);
    const b = await connect(urlB);
    assert.deepEqual((await a.query('SELECT 1 AS one')).rows, [{ one: 1 }]);
    assert.equal((await a.query('SELECT current_database() AS db')).rows[0].db, 'smoke_a');
    assert.equal((await b.query('SELECT current_database() AS db')).rows[0].db, 'smoke_b');
    await a.query('CREATE TABLE only_in_a (id int)');
    await assert.rejects(b.query('SELECT * FROM only_in_a'), (error: { code?: string }) => error.code === '42P01');
  });

  test('a NOTIFY on one connection reaches a LISTEN on another', async () => {
    const url = await server.createDatabase('smoke_notify');
    const listener = await connect(url);
    const sender = await connect(url);
    await listener.query('LISTEN task_events');
    const received = new Promise<pg.Notification>((resolve) => listener.once('notification', resolve));
    await sender.query(`SELECT pg_notify('task_events', 'task-1 succeeded')`);
    const note = await received;
    assert.equal(note.channel, 'task_events');
    assert.equal(note.payload, 'task-1 succeeded');
  });

  test('FOR UPDATE SKIP LOCKED: two connections each claim a different row', async () => {
    const url = await server.createDatabase('smoke_claim');
    const first = await connect(url);
    const second = await connect(url);
    await first.query('CREATE TABLE jobs (id int PRIMARY KEY, claimed_by text)');
    await first.query('INSERT INTO jobs (id) VALUES (1), (2)');
    const claim = 'SELECT id FROM jobs WHERE claimed_by IS NULL ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED';

    await first.query('BEGIN');
    await second.query('BEGIN');
    const one = (await first.query(claim)).rows;
    // Without SKIP LOCKED this would block on row 1 until `first` commits.
    const two = (await second.query(claim)).rows;
    assert.deepEqual(one, [{ id: 1 }]);
    assert.deepEqual(two, [{ id: 2 }]);
    await first.query(`UPDATE jobs SET claimed_by = 'first' WHERE id = 1`);
    await second.query(`UPDATE jobs SET claimed_by = 'second' WHERE id = 2`);
    await first.query('COMMIT');
    await second.query('COMMIT');

    const rows = (await first.query('SELECT id, claimed_by FROM jobs ORDER BY id')).rows;
    assert.deepEqual(rows, [{ id: 1, claimed_by: 'first' }, { id: 2, claimed_by: 'second' }]);
    // Nothing left to claim.
    assert.deepEqual((await second.query(claim)).rows, []);
  });

  test('stop ends the postmaster and removes its directory', async () => {
    const own = await startPostgres();
    const { pid, dir } = own;
    let client: pg.Client | undefined;
    try {
      assert.equal(alive(pid), true);
      assert.equal(existsSync(dir), true);
      client = await connect(await own.createDatabase('smoke_stop'));
      assert.deepEqual((await client.query('SELECT 1 AS one')).rows, [{ one: 1 }]);
      // A session still open must not hold the stop up (fast shutdown ends it).
    } finally {
      await own.stop();
    }
    assert.equal(own.running, false);
    assert.equal(alive(pid), false);
    assert.equal(existsSync(dir), false);
    // The open session was ended by the server's shutdown (then pg reports the closed socket).
    assert.equal(sessionErrors.get(client!)![0]?.code, '57P01');
    await assert.rejects(connect(own.url('postgres')));
  });

  test('a port another process holds is skipped: the server comes up on the next one', async (t) => {
    const holder = createServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
    t.onTestFinished(() => new Promise<void>((resolve) => holder.close(() => resolve())));
    const held = (holder.address() as { port: number }).port;
    const tried: number[] = [];
    const own = await startPostgres(t, {
      nextPort: () => {
        const port = tried.length === 0 ? held : 20_000 + Math.floor(Math.random() * 40_000);
        tried.push(port);
        return port;
      },
    });
    assert.equal(tried[0], held);
    assert.notEqual(own.port, held);
    assert.equal(own.port, tried.at(-1));
    const client = await connect(own.url('postgres'));
    assert.deepEqual((await client.query('SELECT 1 AS one')).rows, [{ one: 1 }]);
  });

  test('a test process that dies without stopping its server takes the server and its dir with it', async () => {
    const script = [
      `import { startPostgres } from ${JSON.stringify(HELPER)};`,
      'const server = await startPostgres();',
      'process.stdout.write(JSON.stringify({ pid: server.pid, dir: server.dir }) + "\\n");',
      'throw new Error("crash before stop");',
    ].join('\n');
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NODE_OPTIONS: '' } });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (text: string) => (stdout += text));
    child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text));
    const killer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    clearTimeout(killer);
    assert.notEqual(code, 0);
    assert.match(stderr, /crash before stop/);
    const { pid, dir } = JSON.parse(stdout) as { pid: number; dir: string };
    try {
      await waitFor('the orphaned postmaster to exit', () => !alive(pid), 10_000);
    } finally {
      if (alive(pid)) process.kill(pid, 'SIGKILL');
    }
    assert.equal(existsSync(dir), false);
  });
});
