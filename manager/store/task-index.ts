/**
 * The task index: every task a scheduler reported, with the hosts that have (or had) it and where
 * its bytes came from, kept `taskIndex.ttl` after it was last seen, so a task stays findable after
 * the schedulers forgot it. Rows are written whole by the event fold (manager/rpc/events-fold.ts).
 */
import { canonicalTaskUrl } from '../../api/index.ts';
import type { Kysely } from 'kysely';
import { RecordNotFoundError } from '../errors.ts';
import { emptyBytes, type BytesBySource, type TaskHostView, type TaskView } from '../events.ts';
import { parseJson, type Page, type Paged } from './query.ts';
import type { Database, TaskIndexEntry } from './schema.ts';

/** Hosts kept per task: a row stays a few hundred KiB at most whatever the cluster's size. */
export const MAX_HOSTS_PER_TASK = 2_000;

export interface IndexedHost extends TaskHostView {
  /** When this host's entry last changed, ms. */
  updated_at: number;
}

export interface IndexedTask {
  taskId: string;
  url: string;
  digest: string | null;
  contentLength: number | null;
  hosts: IndexedHost[];
  firstSeenAt: number;
  lastSeenAt: number;
}

export interface TaskFilter {
  readonly url?: string | undefined;
  readonly taskId?: string | undefined;
  readonly digest?: string | undefined;
}

/** Sum of the hosts' bytes by source. */
export function totalBytes(hosts: readonly TaskHostView[]): BytesBySource {
  const total = emptyBytes();
  for (const host of hosts) {
    total.origin += host.bytes_by_source.origin;
    total.seed_peer += host.bytes_by_source.seed_peer;
    total.peer += host.bytes_by_source.peer;
  }
  return total;
}

/** running while a host runs it; succeeded when a host has it; failed otherwise. */
export function taskState(hosts: readonly TaskHostView[]): string {
  if (hosts.some((host) => host.state === 'running' || host.state === 'back_to_source')) return 'running';
  if (hosts.some((host) => host.state === 'succeeded')) return 'succeeded';
  return hosts.length === 0 ? 'pending' : 'failed';
}

export function indexedTaskView(task: IndexedTask): TaskView {
  const hosts = task.hosts.map(({ updated_at: _, ...host }) => host);
  return {
    task_id: task.taskId,
    url: task.url,
    digest: task.digest,
    content_length: task.contentLength,
    state: taskState(hosts),
    bytes_by_source: totalBytes(hosts),
    hosts,
    first_seen_at: new Date(task.firstSeenAt).toISOString(),
    last_seen_at: new Date(task.lastSeenAt).toISOString(),
  };
}

export function fromRow(row: TaskIndexEntry): IndexedTask {
  return {
    taskId: row.task_id,
    url: row.url,
    digest: row.digest,
    contentLength: row.content_length === null ? null : Number(row.content_length),
    hosts: parseJson<IndexedHost[]>(row.hosts, []),
    firstSeenAt: Number(row.first_seen_at),
    lastSeenAt: Number(row.last_seen_at),
  };
}

export const taskIndexView = (row: TaskIndexEntry): TaskView => indexedTaskView(fromRow(row));

/** Inserts or replaces one task's row. */
export async function saveTask(db: Kysely<Database>, task: IndexedTask): Promise<void> {
  const hosts = task.hosts.length > MAX_HOSTS_PER_TASK ? [...task.hosts].sort((a, b) => b.updated_at - a.updated_at).slice(0, MAX_HOSTS_PER_TASK) : task.hosts;
  const values = {
    url: task.url,
    digest: task.digest,
    content_length: task.contentLength,
    hosts: JSON.stringify(hosts),
    bytes_by_source: JSON.stringify(totalBytes(hosts)),
    last_seen_at: task.lastSeenAt,
  };
  await db
    .insertInto('task_index')
    .values({ ...values, task_id: task.taskId, first_seen_at: task.firstSeenAt })
    .onConflict((conflict) => conflict.column('task_id').doUpdateSet(values))
    .execute();
}

export async function findTask(db: Kysely<Database>, taskId: string): Promise<IndexedTask | undefined> {
  const row = await db.selectFrom('task_index').selectAll().where('task_id', '=', taskId).executeTakeFirst();
  return row && fromRow(row);
}

export async function getTaskEntry(db: Kysely<Database>, taskId: string): Promise<TaskIndexEntry> {
  const row = await db.selectFrom('task_index').selectAll().where('task_id', '=', taskId).executeTakeFirst();
  if (!row) throw new RecordNotFoundError(`task ${taskId}`);
  return row;
}

/** `sha256:<hex>` for a bare 64-hex digest; anything else as given. */
function normalizeDigest(digest: string): string {
  return /^[0-9a-f]{64}$/i.test(digest) ? `sha256:${digest.toLowerCase()}` : digest;
}

/** The URLs a search for `url` matches: as given and in canonical form (signatures removed). */
function urlForms(url: string): string[] {
  try {
    const canonical = canonicalTaskUrl(url);
    return canonical === url ? [url] : [url, canonical];
  } catch {
    return [url];
  }
}

/** Tasks matching every given field, most recently seen first. */
export async function searchTasks(db: Kysely<Database>, filter: TaskFilter, page: Page): Promise<Paged<TaskIndexEntry>> {
  let query = db.selectFrom('task_index');
  if (filter.taskId !== undefined) query = query.where('task_id', '=', filter.taskId);
  if (filter.url !== undefined) query = query.where('url', 'in', urlForms(filter.url));
  if (filter.digest !== undefined) {
    const digest = normalizeDigest(filter.digest);
    const hex = digest.startsWith('sha256:') ? digest.slice('sha256:'.length) : undefined;
    // A layer pulled through a registry mirror is known by its blob URL (and its task id is the hex).
    query = query.where((eb) =>
      eb.or([
        eb('digest', '=', digest),
        ...(hex && /^[0-9a-f]{64}$/.test(hex) ? [eb('url', 'like', `%/blobs/sha256:${hex}%`), eb('task_id', '=', hex)] : []),
      ]),
    );
  }
  const [items, count] = await Promise.all([
    query.selectAll().orderBy('last_seen_at', 'desc').orderBy('task_id').limit(page.limit).offset(page.offset).execute(),
    query.select((eb) => eb.fn.countAll<number>().as('total')).executeTakeFirstOrThrow(),
  ]);
  return { items, total: Number(count.total) };
}

/** Deletes tasks last seen before `cutoff`; returns how many. */
export async function sweepTaskIndex(db: Kysely<Database>, cutoff: number): Promise<number> {
  const result = await db.deleteFrom('task_index').where('last_seen_at', '<', cutoff).executeTakeFirst();
  return Number(result.numDeletedRows);
}

export async function countTaskIndex(db: Kysely<Database>): Promise<number> {
  const row = await db.selectFrom('task_index').select((eb) => eb.fn.countAll<number>().as('total')).executeTakeFirstOrThrow();
  return Number(row.total);
}

