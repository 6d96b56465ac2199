/** One cluster: its settings (root edits them) and its schedulers, seed peers and peers. */
import { useState } from 'preact/hooks';
import { api, get } from '../api.ts';
import { Empty, PageHeader, Show, StateBadge, useLoad } from '../components.ts';
import { ago } from '../format.ts';
import { html } from '../html.ts';
import { useInterval } from '../live.ts';
import type { Cluster, Host, Scheduler, User } from '../types.ts';
import { ClusterForm, type ClusterBody } from './cluster-form.ts';
import { scopeSummary } from './clusters.ts';

// Machines report every few seconds; a page left open follows them at this pace.
const MACHINES_REFRESH_MS = 5_000;

function Machines(props: { title: string; empty: string; rows: Array<{ key: number; name: string; state: string; address: string; version: string; seen: string; load?: string }> }) {
  return html`<section class="card">
    <h2>${props.title} <span class="muted">(${props.rows.length})</span></h2>
    ${props.rows.length === 0
      ? html`<${Empty}>${props.empty}</${Empty}>`
      : html`<div class="table-wrap"><table>
          <thead><tr><th>Host</th><th>State</th><th>Address</th><th>Version</th><th>Last seen</th></tr></thead>
          <tbody>${props.rows.map((row) => html`<tr><td>${row.name}</td><td><${StateBadge} state=${row.state} /></td><td><code>${row.address}</code></td><td>${row.version}</td><td>${row.seen}</td></tr>`)}</tbody>
        </table></div>`}
  </section>`;
}

const hostRow = (host: Host) => ({ key: host.id, name: host.hostname, state: host.state, address: `${host.ip}:${host.port}`, version: host.version ?? '—', seen: ago(host.updated_at) });

export function ClusterPage(props: { id: number; user: User }) {
  const cluster = useLoad(() => get<Cluster>(`/api/v1/clusters/${props.id}`), `cluster-${props.id}`);
  const machines = useLoad(async () => {
    const filter = `?scheduler_cluster_id=${props.id}&per_page=1000`;
    const [schedulers, seeds, peers] = await Promise.all([get<Scheduler[]>(`/api/v1/schedulers${filter}`), get<Host[]>(`/api/v1/seed-peers${filter}`), get<Host[]>(`/api/v1/peers${filter}`)]);
    return { schedulers, seeds, peers };
  }, `machines-${props.id}`);
  useInterval(() => machines.reload(true), MACHINES_REFRESH_MS, true);
  const [editing, setEditing] = useState(false);
  const save = async (body: ClusterBody) => {
    cluster.set(await api<Cluster>('PATCH', `/api/v1/clusters/${props.id}`, body));
    setEditing(false);
  };
  return html`<${Show} loaded=${cluster}>${(c: Cluster) => html`<section>
    <${PageHeader} title=${html`Cluster ${c.name}${c.is_default ? html` <span class="badge">default</span>` : null}`}>
      ${props.user.role === 'root' && !editing ? html`<button onClick=${() => setEditing(true)}>Edit scopes and limits</button>` : null}
    </${PageHeader}>
    ${editing
      ? html`<${ClusterForm} cluster=${c} submitLabel="Save" onSubmit=${save} onCancel=${() => setEditing(false)} />`
      : html`<dl class="card facts">
          <dt>Description</dt><dd>${c.bio || '—'}</dd>
          <dt>Scopes</dt><dd>${scopeSummary(c)}</dd>
          <dt>Parents</dt><dd>${c.scheduler_cluster_config.candidate_parent_limit} candidates of ${c.scheduler_cluster_config.filter_parent_limit} filtered</dd>
          <dt>Job rate limit</dt><dd>${c.scheduler_cluster_config.job_rate_limit} per second</dd>
          <dt>Load limits</dt><dd>seed peer ${c.seed_peer_cluster_config.load_limit}, peer ${c.peer_cluster_config.load_limit} uploads at once</dd>
        </dl>`}
    <${Show} loaded=${machines}>${(m: { schedulers: Scheduler[]; seeds: Host[]; peers: Host[] }) => html`
      <${Machines} title="Schedulers" empty="No scheduler has registered in this cluster. Start a dfscheduler with manager.addr pointing here." rows=${m.schedulers.map((s) => ({
        key: s.id, name: s.hostname, state: s.state, address: `${s.ip}:${s.port}`, version: '—', seen: ago(s.last_keepalive_at ?? s.updated_at),
      }))} />
      <${Machines} title="Seed peers" empty="No seed peer in this cluster." rows=${m.seeds.map(hostRow)} />
      <${Machines} title="Peers" empty="No peer has announced itself in this cluster yet." rows=${m.peers.map(hostRow)} />`}
    </${Show}>
  </section>`}</${Show}>`;
}
