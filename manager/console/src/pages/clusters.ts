/** Every cluster with its scopes and limits; root creates new ones here. */
import { useState } from 'preact/hooks';
import { api, get } from '../api.ts';
import { Empty, PageHeader, Show, useLoad } from '../components.ts';
import { html } from '../html.ts';
import { Link, navigate } from '../router.ts';
import type { Cluster, User } from '../types.ts';
import { ClusterForm, type ClusterBody } from './cluster-form.ts';

export function scopeSummary(cluster: Cluster): string {
  const { idc, location, cidrs = [], hostnames = [] } = cluster.scopes;
  const parts = [idc && `IDC ${idc}`, location && `location ${location}`, cidrs.length > 0 && `CIDR ${cidrs.join(', ')}`, hostnames.length > 0 && `hosts ${hostnames.join(', ')}`].filter(Boolean);
  return parts.length > 0 ? parts.join(' · ') : 'no scopes';
}

export function ClustersPage(props: { user: User }) {
  const clusters = useLoad(() => get<Cluster[]>('/api/v1/clusters?per_page=1000'), 'clusters');
  const [creating, setCreating] = useState(false);
  const create = async (body: ClusterBody) => {
    const created = await api<Cluster>('POST', '/api/v1/clusters', body);
    navigate(`/clusters/${created.id}`);
  };
  return html`<section>
    <${PageHeader} title="Clusters">
      ${props.user.role === 'root' && !creating ? html`<button onClick=${() => setCreating(true)}>New cluster</button>` : null}
    </${PageHeader}>
    ${creating ? html`<${ClusterForm} submitLabel="Create cluster" onSubmit=${create} onCancel=${() => setCreating(false)} />` : null}
    <${Show} loaded=${clusters}>${(list: Cluster[]) =>
      list.length === 0
        ? html`<${Empty}>No clusters yet. ${props.user.role === 'root' ? 'Create one with "New cluster".' : 'A root user creates them.'}</${Empty}>`
        : html`<div class="table-wrap"><table>
            <thead><tr><th>Name</th><th>Scopes</th><th>Parents (candidate / filter)</th><th>Load limits (seed / peer)</th></tr></thead>
            <tbody>${list.map(
              (cluster) => html`<tr>
                <td><${Link} href=${`/clusters/${cluster.id}`}>${cluster.name}</${Link}>${cluster.is_default ? html` <span class="badge">default</span>` : null}</td>
                <td>${scopeSummary(cluster)}</td>
                <td>${cluster.scheduler_cluster_config.candidate_parent_limit} / ${cluster.scheduler_cluster_config.filter_parent_limit}</td>
                <td>${cluster.seed_peer_cluster_config.load_limit} / ${cluster.peer_cluster_config.load_limit}</td>
              </tr>`,
            )}</tbody>
          </table></div>`}
    </${Show}>
  </section>`;
}
