/**
 * One task: the hosts that have it and, while they download, each host's bytes by source as a
 * stacked bar and the task's throughput over time; once done, how much P2P saved the origin.
 */
import { useRef } from 'preact/hooks';
import { get } from '../api.ts';
import { Empty, PageHeader, Show, SourceBar, SourceLegend, StateBadge, ThroughputChart, useLoad, type Sample } from '../components.ts';
import { ago, bytes, p2pSaved } from '../format.ts';
import { html } from '../html.ts';
import { useInterval, useLive } from '../live.ts';
import type { BytesBySource, Task } from '../types.ts';

const MAX_SAMPLES = 120;
const sumOf = (by: BytesBySource) => by.origin + by.seed_peer + by.peer;

/** A task no longer changes once every host that has it is done (or failed). */
export function settled(task: Task): boolean {
  return /succe|finish|fail/i.test(task.state) && task.hosts.every((host) => /succe|finish|fail/i.test(host.state));
}

function Summary(props: { task: Task }) {
  const saved = p2pSaved(props.task.bytes_by_source);
  if (saved === undefined) return null;
  return html`<p class="saved" data-testid="p2p-saved">P2P saved <b>${saved}%</b> of origin traffic: ${bytes(props.task.bytes_by_source.origin)} from the origin for ${bytes(sumOf(props.task.bytes_by_source))} delivered.</p>`;
}

export function TaskPage(props: { id: string }) {
  const task = useLoad(() => get<Task>(`/api/v1/tasks/${encodeURIComponent(props.id)}`), `task-${props.id}`);
  const samples = useRef<{ last?: { at: number; total: number }; list: Sample[] }>({ list: [] });
  const current = task.data;
  if (current) {
    // One sample per snapshot that moved: bytes delivered to every host since the previous one.
    const total = current.hosts.reduce((sum, host) => sum + sumOf(host.bytes_by_source), 0);
    const now = Date.now();
    const last = samples.current.last;
    if (!last) samples.current.last = { at: now, total };
    else if (total !== last.total && now > last.at) {
      samples.current.list = [...samples.current.list, { at: now, bytesPerSecond: Math.max(0, ((total - last.total) * 1000) / (now - last.at)) }].slice(-MAX_SAMPLES);
      samples.current.last = { at: now, total };
    }
  }
  const connected = useLive((type, data) => {
    if (type === 'task' && (data as Task).task_id === props.id) task.set(data as Task);
  });
  useInterval(() => task.reload(true), 1_000, !connected && !(current && settled(current)));
  return html`<${Show} loaded=${task}>${(t: Task) => html`<section>
    <${PageHeader} title=${html`Task <code class="small">${t.task_id}</code>`} />
    <dl class="card facts">
      <dt>URL</dt><dd class="url">${t.url}</dd>
      <dt>State</dt><dd><${StateBadge} state=${t.state} /></dd>
      <dt>Size</dt><dd>${bytes(t.content_length)}</dd>
      <dt>Digest</dt><dd>${t.digest ? html`<code>${t.digest}</code>` : '—'}</dd>
      <dt>Seen</dt><dd>first ${ago(t.first_seen_at)}, last ${ago(t.last_seen_at)}${connected ? ' · live' : ''}</dd>
    </dl>
    <${Summary} task=${t} />
    <section class="card">
      <h2>Throughput</h2>
      <${ThroughputChart} samples=${samples.current.list} />
    </section>
    <section class="card">
      <h2>Hosts <span class="muted">(${t.hosts.length})</span></h2>
      <${SourceLegend} by=${t.bytes_by_source} />
      ${t.hosts.length === 0
        ? html`<${Empty}>No host has this task now.</${Empty}>`
        : html`<div class="table-wrap"><table class="hosts">
            <thead><tr><th>Host</th><th>State</th><th>Bytes by source</th><th>Done</th></tr></thead>
            <tbody>${t.hosts.map((host) => html`<tr data-host-id=${host.host_id}>
              <td>${host.hostname} <span class="muted">${host.ip}</span></td>
              <td><${StateBadge} state=${host.state} /></td>
              <td class="bar-cell"><${SourceBar} by=${host.bytes_by_source} total=${t.content_length} label=${host.hostname} /></td>
              <td class="nowrap" data-testid="host-bytes">${bytes(host.finished_bytes)} / ${bytes(t.content_length)}<br /><span class="muted small">seed ${bytes(host.bytes_by_source.seed_peer)} · peers ${bytes(host.bytes_by_source.peer)} · origin ${bytes(host.bytes_by_source.origin)}</span></td>
            </tr>`)}</tbody>
          </table></div>`}
    </section>
  </section>`}</${Show}>`;
}
