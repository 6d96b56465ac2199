/** Tasks the schedulers reported: search by URL, task id or digest; new downloads appear live. */
import { get, query } from '../api.ts';
import { Empty, PageHeader, Show, StateBadge, useLoad } from '../components.ts';
import { ago, bytes, p2pSaved, shortId } from '../format.ts';
import { html } from '../html.ts';
import { useInterval, useLive } from '../live.ts';
import { Link, navigate } from '../router.ts';
import type { Task } from '../types.ts';

const FIELDS = ['url', 'task_id', 'digest'] as const;

function matches(task: Task, filter: Record<string, string>): boolean {
  if (filter.url && task.url !== filter.url) return false;
  if (filter.task_id && task.task_id !== filter.task_id) return false;
  if (filter.digest && task.digest !== filter.digest) return false;
  return true;
}

export function TasksPage(props: { search: string }) {
  const params = new URLSearchParams(props.search);
  const filter = Object.fromEntries(FIELDS.map((field) => [field, params.get(field) ?? ''])) as Record<string, string>;
  const tasks = useLoad(() => get<Task[]>(`/api/v1/tasks${query(filter)}`), props.search);
  const connected = useLive((type, data) => {
    if (type !== 'task' || !tasks.data) return;
    const task = data as Task;
    if (!matches(task, filter)) return;
    const rest = tasks.data.filter((other) => other.task_id !== task.task_id);
    tasks.set([task, ...rest]);
  });
  useInterval(() => tasks.reload(true), 1_000, !connected);
  const search = (event: SubmitEvent) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget as HTMLFormElement);
    navigate(`/tasks${query(Object.fromEntries(FIELDS.map((field) => [field, String(form.get(field) ?? '').trim()])))}`);
  };
  return html`<section>
    <${PageHeader} title="Tasks" />
    <form class="card form-inline" onSubmit=${search} aria-label="search tasks">
      <label class="grow">URL<input name="url" value=${filter.url} placeholder="https://example.com/file.bin" /></label>
      <label>Task id<input name="task_id" value=${filter.task_id} /></label>
      <label>Digest<input name="digest" value=${filter.digest} placeholder="sha256:…" /></label>
      <button type="submit">Search</button>
      ${props.search ? html`<button type="button" class="secondary" onClick=${() => navigate('/tasks')}>Clear</button>` : null}
    </form>
    <${Show} loaded=${tasks}>${(list: Task[]) =>
      list.length === 0
        ? html`<${Empty}>${props.search ? 'No task matches. The URL must be the one downloaded, query included; a task id is 64 hex characters.' : 'No downloads seen yet. Tasks show up here as soon as a peer starts one.'}</${Empty}>`
        : html`<div class="table-wrap"><table>
            <thead><tr><th>Task</th><th>URL</th><th>State</th><th>Size</th><th>Hosts</th><th>P2P saved</th><th>Last seen</th></tr></thead>
            <tbody>${list.map((task) => {
              const saved = p2pSaved(task.bytes_by_source);
              return html`<tr data-task-id=${task.task_id}>
                <td><${Link} href=${`/tasks/${task.task_id}`}><code>${shortId(task.task_id)}</code></${Link}></td>
                <td class="url">${task.url}</td><td><${StateBadge} state=${task.state} /></td><td>${bytes(task.content_length)}</td>
                <td>${task.hosts.length}</td><td>${saved === undefined ? '—' : `${saved}%`}</td><td>${ago(task.last_seen_at)}</td>
              </tr>`;
            })}</tbody>
          </table></div>`}
    </${Show}>
  </section>`;
}
