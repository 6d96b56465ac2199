/** Preheat jobs: a form to start one (an image or a file) and the list, kept current. */
import { useState } from 'preact/hooks';
import { api, get } from '../api.ts';
import { Empty, ErrorNote, PageHeader, Show, StateBadge, useLoad } from '../components.ts';
import { ago, TERMINAL_JOB_STATES } from '../format.ts';
import { html } from '../html.ts';
import { useInterval, useLive } from '../live.ts';
import { Link, navigate } from '../router.ts';
import type { Cluster, Job } from '../types.ts';

const SCOPES = [
  { value: 'single_seed_peer', label: 'one seed peer (by the task hash ring)' },
  { value: 'all_seed_peers', label: 'every seed peer' },
  { value: 'all_peers', label: 'every peer' },
];

function PreheatForm(props: { clusters: Cluster[] }) {
  const [kind, setKind] = useState<'image' | 'file'>('file');
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const submit = async (event: SubmitEvent) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget as HTMLFormElement);
    const text = (name: string) => String(form.get(name) ?? '').trim();
    const cluster = text('cluster');
    const args: Record<string, unknown> = { type: kind, url: text('url'), scope: text('scope') };
    if (kind === 'image' && text('platform')) args.platform = text('platform');
    if (text('username')) args.username = text('username');
    if (String(form.get('password') ?? '') !== '') args.password = String(form.get('password'));
    setBusy(true);
    setError(undefined);
    try {
      const job = await api<Job>('POST', '/api/v1/jobs', { type: 'preheat', args, ...(cluster !== '' && { scheduler_cluster_ids: [Number(cluster)] }) });
      navigate(`/jobs/${job.id}`);
    } catch (caught) {
      setError(caught);
      setBusy(false);
    }
  };
  return html`<form class="card form-grid" onSubmit=${submit} aria-label="new preheat">
    <h2>Preheat</h2>
    <fieldset class="inline"><legend>What</legend>
      <label class="check"><input type="radio" name="type" value="file" checked=${kind === 'file'} onChange=${() => setKind('file')} /> a file (URL)</label>
      <label class="check"><input type="radio" name="type" value="image" checked=${kind === 'image'} onChange=${() => setKind('image')} /> an image (manifest URL)</label>
    </fieldset>
    <label class="wide">URL<input name="url" type="url" required placeholder=${kind === 'image' ? 'https://registry.example.com/v2/library/app/manifests/1.0' : 'https://example.com/models/weights.bin'} /></label>
    ${kind === 'image' ? html`<label>Platform<input name="platform" value="linux/amd64" /></label>` : null}
    <label>User name (optional)<input name="username" autocomplete="off" /></label>
    <label>Password (optional)<input name="password" type="password" autocomplete="new-password" /></label>
    <label>Where<select name="scope">${SCOPES.map((scope) => html`<option value=${scope.value}>${scope.label}</option>`)}</select></label>
    <label>Cluster<select name="cluster"><option value="">every cluster</option>${props.clusters.map((c) => html`<option value=${String(c.id)}>${c.name}</option>`)}</select></label>
    <p class="muted small wide">Credentials are kept encrypted while the job runs and deleted after; the job shows them as ***.</p>
    <${ErrorNote} error=${error} />
    <div class="row wide"><button type="submit" disabled=${busy}>${busy ? 'Starting…' : 'Start preheat'}</button></div>
  </form>`;
}

export function jobUrl(job: Job): string {
  return job.args.url ?? job.args.urls?.[0] ?? '—';
}

export function JobsPage() {
  const clusters = useLoad(() => get<Cluster[]>('/api/v1/clusters?per_page=1000'), 'clusters');
  const jobs = useLoad(() => get<Job[]>('/api/v1/jobs?per_page=50'), 'jobs');
  const connected = useLive((type) => type === 'job' && jobs.reload(true));
  const running = (jobs.data ?? []).some((job) => !TERMINAL_JOB_STATES.has(job.state));
  useInterval(() => jobs.reload(true), 1_000, !connected && running);
  return html`<section>
    <${PageHeader} title="Jobs" />
    <${Show} loaded=${clusters}>${(list: Cluster[]) => html`<${PreheatForm} clusters=${list} />`}</${Show}>
    <h2>Recent jobs</h2>
    <${Show} loaded=${jobs}>${(list: Job[]) =>
      list.length === 0
        ? html`<${Empty}>No jobs yet. Start a preheat above to put a file or an image on seed peers before anyone asks for it.</${Empty}>`
        : html`<div class="table-wrap"><table>
            <thead><tr><th>Job</th><th>State</th><th>What</th><th>Scope</th><th>Created</th></tr></thead>
            <tbody>${list.map((job) => html`<tr>
              <td><${Link} href=${`/jobs/${job.id}`}>#${job.id} ${job.type}</${Link}></td><td><${StateBadge} state=${job.state} /></td>
              <td class="url">${job.args.type ?? ''} ${jobUrl(job)}</td><td>${job.args.scope ?? 'single_seed_peer'}</td><td>${ago(job.created_at)}</td>
            </tr>`)}</tbody>
          </table></div>`}
    </${Show}>
  </section>`;
}
