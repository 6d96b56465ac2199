/** One job: overall and per layer and host progress, live until it ends, then its result. */
import { get } from '../api.ts';
import { Empty, PageHeader, ProgressBar, Show, StateBadge, useLoad } from '../components.ts';
import { ago, bytes, percent, TERMINAL_JOB_STATES } from '../format.ts';
import { html } from '../html.ts';
import { useInterval, useLive } from '../live.ts';
import type { Job, JobEvent, LayerProgress } from '../types.ts';
import { jobUrl } from './jobs.ts';

/** Bytes done and expected over every host of every layer (a layer's size counts once per host). */
export function jobTotals(layers: readonly LayerProgress[]): { done: number; whole: number } {
  let done = 0;
  let whole = 0;
  for (const layer of layers) {
    if (layer.hosts.length === 0) {
      done += layer.state === 'SUCCESS' ? (layer.size ?? 1) : 0;
      whole += layer.size ?? 1;
      continue;
    }
    for (const host of layer.hosts) {
      const length = host.content_length || layer.size || 0;
      done += host.state === 'SUCCESS' ? length : host.bytes;
      whole += length;
    }
  }
  return { done, whole };
}

function Layer(props: { layer: LayerProgress }) {
  const { layer } = props;
  return html`<section class="card layer">
    <h3 class="url">${layer.url}</h3>
    <p class="muted small">${layer.digest ? html`<code>${layer.digest}</code> · ` : null}${bytes(layer.size)} · cluster ${layer.scheduler_cluster_id} · <${StateBadge} state=${layer.state} /></p>
    ${layer.hosts.length === 0
      ? html`<p class="muted">Waiting for the scheduler to pick hosts…</p>`
      : html`<div class="table-wrap"><table>
          <thead><tr><th>Host</th><th>Progress</th><th>Bytes</th><th>State</th></tr></thead>
          <tbody>${layer.hosts.map((host) => {
            const whole = host.content_length || layer.size || 0;
            const done = host.state === 'SUCCESS' ? whole : host.bytes;
            return html`<tr>
              <td>${host.hostname} <span class="muted">${host.ip}</span></td>
              <td class="bar-cell"><${ProgressBar} value=${done} whole=${whole} label=${`${host.hostname} progress`} /></td>
              <td>${bytes(done)} / ${bytes(whole)}</td>
              <td><${StateBadge} state=${host.state} />${host.description ? html` <span class="error-text">${host.description}</span>` : null}</td>
            </tr>`;
          })}</tbody>
        </table></div>`}
  </section>`;
}

function Result(props: { job: Job }) {
  const states = props.job.result?.job_states ?? [];
  if (states.length === 0) return null;
  return html`<section class="card">
    <h2>Result</h2>
    ${states.map((state) => html`<div>
      <p><${StateBadge} state=${state.state} /> ${state.error ? html`<span class="error-text">${state.error}</span>` : null}</p>
      ${state.results.map((result) => html`<p class="small">Cluster ${result.scheduler_cluster_id}: ${result.success_tasks.length} host${result.success_tasks.length === 1 ? '' : 's'} succeeded${result.failure_tasks.length > 0 ? html`, <span class="error-text">${result.failure_tasks.length} failed: ${result.failure_tasks.map((f) => `${f.hostname} (${f.description})`).join('; ')}</span>` : null}.</p>`)}
    </div>`)}
  </section>`;
}

export function JobPage(props: { id: number }) {
  const job = useLoad(() => get<Job>(`/api/v1/jobs/${props.id}`), `job-${props.id}`);
  const connected = useLive((type, data) => {
    if (type !== 'job' || (data as JobEvent).id !== props.id || !job.data) return;
    const event = data as JobEvent;
    job.set({ ...job.data, state: event.state, progress: event.progress ?? job.data.progress });
    // The event carries progress; the result comes with the job itself once it ends.
    if (TERMINAL_JOB_STATES.has(event.state)) job.reload(true);
  });
  const ended = job.data !== undefined && TERMINAL_JOB_STATES.has(job.data.state);
  useInterval(() => job.reload(true), 1_000, !ended && !connected);
  return html`<${Show} loaded=${job}>${(j: Job) => {
    const layers = j.progress?.layers ?? [];
    const totals = jobTotals(layers);
    const share = j.state === 'SUCCESS' ? 100 : Math.floor(percent(totals.done, totals.whole));
    return html`<section>
      <${PageHeader} title=${html`Job #${j.id} <${StateBadge} state=${j.state} />`} />
      <dl class="card facts">
        <dt>What</dt><dd class="url">${j.args.type ?? 'image'} ${jobUrl(j)}</dd>
        <dt>Scope</dt><dd>${j.args.scope ?? 'single_seed_peer'}${j.scheduler_cluster_ids.length > 0 ? ` in cluster ${j.scheduler_cluster_ids.join(', ')}` : ''}</dd>
        <dt>Started</dt><dd>${ago(j.created_at)}, updated ${ago(j.updated_at)}</dd>
        <dt>Progress</dt><dd><div class="row"><${ProgressBar} value=${share} whole=${100} label="job progress" /><b data-testid="job-percent">${share}%</b></div>
          <span class="muted small">${bytes(totals.done)} of ${bytes(totals.whole)}${ended ? '' : connected ? ' · live' : ' · refreshing every second'}</span></dd>
      </dl>
      <${Result} job=${j} />
      <h2>Layers and hosts</h2>
      ${layers.length === 0 ? html`<${Empty}>${ended ? 'This job downloaded nothing.' : 'Resolving what to download…'}</${Empty}>` : layers.map((layer) => html`<${Layer} layer=${layer} />`)}
    </section>`;
  }}</${Show}>`;
}
