/**
 * The job engine on both stores: two runners share the queue (each task claimed once), an expired
 * lease is taken over by another runner, credentials are sealed while a job runs and gone after,
 * and the stored args are redacted.
 */
import { afterAll, beforeAll, describe, test } from 'vitest';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '../../api/index.ts';
import {
  claimTask,
  createJob,
  findJob,
  JobRunner,
  JobSecretBox,
  jobTasks,
  openStore,
  preheatCredentialsOf as credentialsOf,
  redactPreheatArgs,
  type JobFinisher,
  type Store,
  type TaskExecutor,
} from '../../manager/index.ts';
import { postgresSkipReason, startPostgres, type PostgresServer } from '../support/postgres.ts';
import { waitFor } from '../support/temp.ts';

const log = createLogger('error');
const finish: JobFinisher = (_job, tasks) => ({
  state: tasks.every((task) => task.state === 'SUCCESS') ? 'SUCCESS' : 'FAILURE',
  result: { job_states: [] },
  progress: { tasks: tasks.length },
});

type Open = (name: string) => Promise<{ store: Store; url: string }>;

async function newJob(store: Store, box: JobSecretBox, tasks: number, secret = true) {
  const args = { type: 'file' as const, urls: ['http://127.0.0.1:1/x'], username: 'alice', password: 'hunter2', headers: { Authorization: 'Bearer abc', 'X-Plain': 'v' } };
  const taskId = `group_${Math.random().toString(16).slice(2)}`;
  return createJob(
    store.db,
    {
      taskId,
      type: 'test',
      args: redactPreheatArgs(args),
      schedulerClusterIds: [1],
      userId: null,
      timeoutMs: 60_000,
      secret: secret ? box.seal(taskId, credentialsOf(args)!) : undefined,
      tasks: Array.from({ length: tasks }, (_, i) => ({ schedulerClusterId: 1, payload: { kind: 'sleep', i } })),
    },
    Date.now(),
  );
}

function engineTests(open: Open): void {
  test('two runners share the queue: every task runs once; the job ends; credentials are gone, args redacted', async () => {
    const { store, url } = await open('share');
    const box = await JobSecretBox.open(store.db, Date.now());
    const ran = new Map<number, string>();
    const seen: unknown[] = [];
    const executor = (owner: () => string): TaskExecutor => async (work) => {
      assert.equal(ran.has(work.task.id), false, `task ${work.task.id} ran twice`);
      ran.set(work.task.id, owner());
      seen.push(work.credentials);
      await new Promise((resolve) => setTimeout(resolve, 30));
      return { kind: 'done', state: 'SUCCESS', payload: work.payload, bytes: 1, error: null };
    };
    let a!: JobRunner;
    let b!: JobRunner;
    a = new JobRunner({ store, databaseUrl: url, box, log, now: Date.now, executors: { sleep: executor(() => a.owner) }, finishers: { test: finish } }, { concurrency: 2 });
    b = new JobRunner({ store, databaseUrl: url, box, log, now: Date.now, executors: { sleep: executor(() => b.owner) }, finishers: { test: finish } }, { concurrency: 2 });
    const job = await newJob(store, box, 12);
    try {
      await Promise.all([a.start(), b.start()]);
      await waitFor('the job to end', async () => (await findJob(store.db, job.id))?.state !== 'PENDING', 20_000);
      const ended = (await findJob(store.db, job.id))!;
      assert.equal(ended.state, 'SUCCESS');
      assert.equal(ran.size, 12);
      assert.equal(new Set(ran.values()).size, 2, 'both runners took tasks');
      assert.deepEqual(seen[0], { username: 'alice', password: 'hunter2', headers: { Authorization: 'Bearer abc', 'X-Plain': 'v' } });
      assert.deepEqual(await store.db.selectFrom('job_secrets').selectAll().execute(), [], 'the sealed credentials are deleted at the end');
      const args = JSON.parse(ended.args) as { password: string; headers: Record<string, string> };
      assert.equal(args.password, '***');
      assert.deepEqual(args.headers, { Authorization: '***', 'X-Plain': 'v' });
      for (const table of ['jobs', 'job_tasks', 'job_secrets'] as const) {
        const text = JSON.stringify(await store.db.selectFrom(table).selectAll().execute());
        assert.equal(text.includes('hunter2') || text.includes('Bearer abc'), false, `no credential in ${table}`);
      }
    } finally {
      await Promise.all([a.close(), b.close()]);
      await store.close();
    }
  });

  test('a lease that expires is taken over by another runner; the first owner cannot finish it', async () => {
    const { store, url } = await open('takeover');
    const box = await JobSecretBox.open(store.db, Date.now());
    const job = await newJob(store, box, 1, false);
    // A replica that claimed the task and died: its lease runs out in 200 ms.
    const dead = await claimTask(store.db, store.kind, 'dead-replica', Date.now(), 200);
    assert.ok(dead);
    assert.equal(await claimTask(store.db, store.kind, 'other', Date.now(), 30_000), undefined, 'a live lease is not claimed twice');
    const runner = new JobRunner(
      { store, databaseUrl: url, box, log, now: Date.now, executors: { sleep: async (work) => ({ kind: 'done', state: 'SUCCESS', payload: work.payload, bytes: 7, error: null }) }, finishers: { test: finish } },
      { pollIntervalMs: 100 },
    );
    try {
      await runner.start();
      await waitFor('the job to end', async () => (await findJob(store.db, job.id))?.state !== 'PENDING', 10_000);
      const [task] = await jobTasks(store.db, job.id);
      assert.equal(task!.state, 'SUCCESS');
      assert.equal(task!.attempts, 2, 'claimed by the dead replica, then by the runner');
      assert.equal((await findJob(store.db, job.id))!.state, 'SUCCESS');
    } finally {
      await runner.close();
      await store.close();
    }
  });

  test('a job past its timeout fails and its tasks stop', async () => {
    const { store, url } = await open('timeout');
    const box = await JobSecretBox.open(store.db, Date.now());
    const job = await createJob(
      store.db,
      { taskId: 'group_t', type: 'test', args: {}, schedulerClusterIds: [1], userId: null, timeoutMs: 300, secret: box.seal('group_t', { password: 'p' }), tasks: [{ schedulerClusterId: 1, payload: { kind: 'hang' } }] },
      Date.now(),
    );
    let aborted = false;
    const runner = new JobRunner(
      {
        store,
        databaseUrl: url,
        box,
        log,
        now: Date.now,
        executors: {
          hang: (work) =>
            new Promise((_resolve, reject) =>
              work.signal.addEventListener('abort', () => {
                aborted = true;
                reject(work.signal.reason as Error);
              }),
            ),
        },
        finishers: { test: finish },
      },
      { pollIntervalMs: 100, progressIntervalMs: 100 },
    );
    try {
      await runner.start();
      await waitFor('the job to fail', async () => (await findJob(store.db, job.id))?.state === 'FAILURE', 10_000);
      await waitFor('the task to be aborted', () => aborted, 5_000);
      assert.deepEqual(await store.db.selectFrom('job_secrets').selectAll().execute(), []);
      assert.match((await jobTasks(store.db, job.id))[0]!.error ?? '', /timed out/);
    } finally {
      await runner.close();
      await store.close();
    }
  });
}

describe('node:sqlite', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'df-jobs-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  engineTests(async (name) => {
    const url = `sqlite:${join(dir, `${name}.db`)}`;
    return { store: await openStore(url, dir), url };
  });
});

const skipPostgres = postgresSkipReason();
describe.skipIf(skipPostgres)('PostgreSQL', () => {
  let server: PostgresServer;
  beforeAll(async () => {
    server = await startPostgres();
  });
  afterAll(async () => {
    await server?.stop();
  });
  engineTests(async (name) => {
    const url = await server.createDatabase(name);
    return { store: await openStore(url, '/nonexistent'), url };
  });
});
