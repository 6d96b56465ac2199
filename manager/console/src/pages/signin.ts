/** Sign in with a name and password (root, or a guest root created). */
import { useState } from 'preact/hooks';
import { api, get } from '../api.ts';
import { ErrorNote } from '../components.ts';
import { html } from '../html.ts';
import { rememberSession } from '../session.ts';
import type { User } from '../types.ts';

export function SignIn(props: { onSignedIn: (user: User) => void }) {
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const submit = async (event: SubmitEvent) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget as HTMLFormElement);
    setBusy(true);
    setError(undefined);
    try {
      const answer = await api<{ expire: string }>('POST', '/api/v1/users/signin', { name: String(form.get('name')), password: String(form.get('password')) });
      rememberSession(answer.expire);
      props.onSignedIn(await get<User>('/api/v1/users/me'));
    } catch (caught) {
      setError(caught);
    } finally {
      setBusy(false);
    }
  };
  return html`<main class="signin">
    <form class="card" onSubmit=${submit}>
      <h1>Dragonfly manager</h1>
      <p class="muted">Sign in to see clusters, downloads and preheat jobs.</p>
      <label>Name<input name="name" autocomplete="username" required autofocus /></label>
      <label>Password<input name="password" type="password" autocomplete="current-password" required /></label>
      <${ErrorNote} error=${error} />
      <button type="submit" disabled=${busy}>${busy ? 'Signing in…' : 'Sign in'}</button>
      <p class="muted small">The first root password is printed by <code>dfmanager</code> when it starts (or set with <code>auth.rootPassword</code>).</p>
    </form>
  </main>`;
}
