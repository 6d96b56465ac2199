/**
 * Personal access tokens (root): create one and see it once, with a copy button; revoke. The
 * token lives only in this component's state: a reload or another page forgets it, as the API
 * keeps only its hash.
 */
import { useState } from 'preact/hooks';
import { api, get } from '../api.ts';
import { Empty, ErrorNote, PageHeader, Show, StateBadge, useLoad } from '../components.ts';
import { ago } from '../format.ts';
import { html } from '../html.ts';
import type { Token } from '../types.ts';

const DAY_MS = 86_400_000;

function NewToken(props: { token: string; onDone: () => void }) {
  const [copied, setCopied] = useState<string>();
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(props.token);
      setCopied('Copied to the clipboard.');
    } catch {
      setCopied('The browser refused the clipboard: select the token and copy it by hand.');
    }
  };
  return html`<div class="card notice" role="status">
    <h2>Your new token</h2>
    <p>Copy it now: it is shown <b>only once</b> and cannot be read again.</p>
    <div class="row"><code class="secret" data-testid="new-token">${props.token}</code><button onClick=${copy}>Copy</button></div>
    ${copied ? html`<p class="small">${copied}</p>` : null}
    <button class="secondary" onClick=${props.onDone}>I have saved it</button>
  </div>`;
}

export function TokensPage() {
  const tokens = useLoad(() => get<Token[]>('/api/v1/personal-access-tokens?per_page=1000'), 'tokens');
  const [shown, setShown] = useState<string>();
  const [error, setError] = useState<unknown>();
  const create = async (event: SubmitEvent) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget as HTMLFormElement);
    const scopes = form.getAll('scopes').map(String);
    setError(undefined);
    try {
      const days = Number(form.get('days'));
      const created = await api<Token & { token: string }>('POST', '/api/v1/personal-access-tokens', {
        name: String(form.get('name')).trim(),
        scopes,
        expired_at: new Date(Date.now() + days * DAY_MS).toISOString(),
      });
      setShown(created.token);
      (event.target as HTMLFormElement).reset();
      tokens.reload(true);
    } catch (caught) {
      setError(caught);
    }
  };
  const revoke = async (token: Token) => {
    if (!confirm(`Revoke "${token.name}"? Anything using it stops working at once.`)) return;
    try {
      await api('PATCH', `/api/v1/personal-access-tokens/${token.id}`, { state: 'inactive' });
      tokens.reload(true);
    } catch (caught) {
      setError(caught);
    }
  };
  return html`<section>
    <${PageHeader} title="Personal access tokens" />
    <p class="muted">Tokens let scripts and Harbor call <code>/oapi/v1</code>: scope <b>job</b> creates preheat jobs, <b>cluster</b> lists clusters.</p>
    ${shown ? html`<${NewToken} token=${shown} onDone=${() => setShown(undefined)} />` : null}
    <form class="card form-inline" onSubmit=${create} aria-label="new token">
      <label>Name<input name="name" required maxlength="256" placeholder="harbor" /></label>
      <fieldset class="inline"><legend>Scopes</legend>
        <label class="check"><input type="checkbox" name="scopes" value="job" checked /> job</label>
        <label class="check"><input type="checkbox" name="scopes" value="cluster" /> cluster</label>
      </fieldset>
      <label>Expires in<select name="days"><option value="7">7 days</option><option value="30">30 days</option><option value="90" selected>90 days</option><option value="365">1 year</option></select></label>
      <button type="submit">Create token</button>
    </form>
    <${ErrorNote} error=${error} />
    <${Show} loaded=${tokens}>${(list: Token[]) =>
      list.length === 0
        ? html`<${Empty}>No tokens yet. Create one above; it is shown once.</${Empty}>`
        : html`<div class="table-wrap"><table>
            <thead><tr><th>Name</th><th>Token</th><th>Scopes</th><th>State</th><th>Expires</th><th>Last used</th><th></th></tr></thead>
            <tbody>${list.map((token) => html`<tr>
              <td>${token.name}</td><td><code>${token.prefix}…</code></td><td>${token.scopes.join(', ')}</td><td><${StateBadge} state=${token.state} /></td>
              <td>${new Date(token.expired_at).toLocaleDateString()}</td><td>${ago(token.last_used_at)}</td>
              <td>${token.state === 'active' ? html`<button class="danger small" onClick=${() => revoke(token)}>Revoke</button>` : null}</td>
            </tr>`)}</tbody>
          </table></div>`}
    </${Show}>
  </section>`;
}
