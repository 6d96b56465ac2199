/** Users (root): who can sign in, with which role; create, enable or disable, promote or demote. */
import { useState } from 'preact/hooks';
import { api, get } from '../api.ts';
import { ErrorNote, PageHeader, Show, StateBadge, useLoad } from '../components.ts';
import { ago } from '../format.ts';
import { html } from '../html.ts';
import type { User } from '../types.ts';

export function UsersPage(props: { user: User }) {
  const users = useLoad(() => get<User[]>('/api/v1/users?per_page=1000'), 'users');
  const [error, setError] = useState<unknown>();
  const act = async (action: () => Promise<unknown>) => {
    setError(undefined);
    try {
      await action();
      users.reload(true);
    } catch (caught) {
      setError(caught);
    }
  };
  const create = (event: SubmitEvent) => {
    event.preventDefault();
    const formElement = event.currentTarget as HTMLFormElement;
    const form = new FormData(formElement);
    void act(async () => {
      await api('POST', '/api/v1/users', { name: String(form.get('name')).trim(), password: String(form.get('password')), role: String(form.get('role')) });
      formElement.reset();
    });
  };
  return html`<section>
    <${PageHeader} title="Users" />
    <form class="card form-inline" onSubmit=${create} aria-label="new user">
      <label>Name<input name="name" required pattern="[A-Za-z0-9][A-Za-z0-9_.\\-]*" maxlength="64" /></label>
      <label>Password (8 or more)<input name="password" type="password" required minlength="8" autocomplete="new-password" /></label>
      <label>Role<select name="role"><option value="guest">guest: reads, creates jobs</option><option value="root">root: everything</option></select></label>
      <button type="submit">Create user</button>
    </form>
    <${ErrorNote} error=${error} />
    <${Show} loaded=${users}>${(list: User[]) => html`<div class="table-wrap"><table>
      <thead><tr><th>Name</th><th>Role</th><th>State</th><th>Created</th><th></th></tr></thead>
      <tbody>${list.map((user) => html`<tr>
        <td>${user.name}${user.id === props.user.id ? html` <span class="muted">(you)</span>` : null}</td>
        <td>${user.role}</td><td><${StateBadge} state=${user.state} /></td><td>${ago(user.created_at)}</td>
        <td class="row">
          ${user.role === 'guest'
            ? html`<button class="secondary small" onClick=${() => act(() => api('PUT', `/api/v1/users/${user.id}/roles/root`))}>Make root</button>`
            : html`<button class="secondary small" onClick=${() => act(() => api('DELETE', `/api/v1/users/${user.id}/roles/root`))}>Make guest</button>`}
          <button class="secondary small" onClick=${() => act(() => api('PATCH', `/api/v1/users/${user.id}`, { state: user.state === 'enable' ? 'disable' : 'enable' }))}>${user.state === 'enable' ? 'Disable' : 'Enable'}</button>
        </td>
      </tr>`)}</tbody>
    </table></div>`}</${Show}>
  </section>`;
}
