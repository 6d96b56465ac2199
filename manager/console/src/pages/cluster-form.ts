/** The fields of a cluster (scopes and limits), for creating one and for editing it. */
import { useState } from 'preact/hooks';
import { ErrorNote } from '../components.ts';
import { html } from '../html.ts';
import type { Cluster } from '../types.ts';

export type ClusterBody = Partial<Pick<Cluster, 'name' | 'bio' | 'scopes' | 'is_default'>> & {
  scheduler_cluster_config?: Partial<Cluster['scheduler_cluster_config']>;
  seed_peer_cluster_config?: Partial<Cluster['seed_peer_cluster_config']>;
  peer_cluster_config?: Partial<Cluster['peer_cluster_config']>;
};

const list = (text: FormDataEntryValue | null) =>
  String(text ?? '')
    .split(/[\n,]/)
    .map((item) => item.trim())
    .filter((item) => item !== '');
const integer = (text: FormDataEntryValue | null) => (String(text ?? '').trim() === '' ? undefined : Number(text));

function bodyOf(form: FormData): ClusterBody {
  const idc = String(form.get('idc') ?? '').trim();
  const location = String(form.get('location') ?? '').trim();
  return {
    name: String(form.get('name')).trim(),
    bio: String(form.get('bio') ?? '').trim() || null,
    is_default: form.get('is_default') === 'on',
    scopes: { idc, location, cidrs: list(form.get('cidrs')), hostnames: list(form.get('hostnames')) },
    scheduler_cluster_config: { candidate_parent_limit: integer(form.get('candidate_parent_limit')), filter_parent_limit: integer(form.get('filter_parent_limit')), job_rate_limit: integer(form.get('job_rate_limit')) },
    seed_peer_cluster_config: { load_limit: integer(form.get('seed_load_limit')) },
    peer_cluster_config: { load_limit: integer(form.get('peer_load_limit')) },
  };
}

export function ClusterForm(props: { cluster?: Cluster; submitLabel: string; onSubmit: (body: ClusterBody) => Promise<void>; onCancel?: () => void }) {
  const c = props.cluster;
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const submit = async (event: SubmitEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      await props.onSubmit(bodyOf(new FormData(event.currentTarget as HTMLFormElement)));
    } catch (caught) {
      setError(caught);
    } finally {
      setBusy(false);
    }
  };
  return html`<form class="card form-grid" onSubmit=${submit} aria-label="cluster">
    <label>Name<input name="name" required value=${c?.name ?? ''} /></label>
    <label>Description<input name="bio" value=${c?.bio ?? ''} /></label>
    <fieldset>
      <legend>Scopes: which hosts this cluster serves</legend>
      <label>IDC<input name="idc" value=${c?.scopes.idc ?? ''} placeholder="idc-a|idc-b" /></label>
      <label>Location<input name="location" value=${c?.scopes.location ?? ''} placeholder="country|province|city" /></label>
      <label>CIDRs (one per line)<textarea name="cidrs" rows="2" placeholder="10.0.0.0/8">${(c?.scopes.cidrs ?? []).join('\n')}</textarea></label>
      <label>Hostname patterns (one per line)<textarea name="hostnames" rows="2" placeholder="^node-.*$">${(c?.scopes.hostnames ?? []).join('\n')}</textarea></label>
    </fieldset>
    <fieldset>
      <legend>Limits</legend>
      <label>Candidate parents (1-20)<input name="candidate_parent_limit" type="number" min="1" max="20" value=${c?.scheduler_cluster_config.candidate_parent_limit ?? 3} /></label>
      <label>Filtered parents (10-1000)<input name="filter_parent_limit" type="number" min="10" max="1000" value=${c?.scheduler_cluster_config.filter_parent_limit ?? 15} /></label>
      <label>Job rate limit (per s)<input name="job_rate_limit" type="number" min="1" value=${c?.scheduler_cluster_config.job_rate_limit ?? 10} /></label>
      <label>Seed peer load limit<input name="seed_load_limit" type="number" min="1" max="50000" value=${c?.seed_peer_cluster_config.load_limit ?? 2000} /></label>
      <label>Peer load limit<input name="peer_load_limit" type="number" min="1" max="2000" value=${c?.peer_cluster_config.load_limit ?? 200} /></label>
    </fieldset>
    <label class="check"><input name="is_default" type="checkbox" checked=${c?.is_default ?? false} /> Default cluster (for hosts no scope matches)</label>
    <${ErrorNote} error=${error} />
    <div class="row">
      <button type="submit" disabled=${busy}>${busy ? 'Saving…' : props.submitLabel}</button>
      ${props.onCancel ? html`<button type="button" class="secondary" onClick=${props.onCancel}>Cancel</button>` : null}
    </div>
  </form>`;
}
