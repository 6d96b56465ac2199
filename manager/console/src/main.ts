/** The console's root: who is signed in, the navigation, and which page the path names. */
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { api, get, whenSignedOut } from './api.ts';
import { html } from './html.ts';
import { ClusterPage } from './pages/cluster.ts';
import { ClustersPage } from './pages/clusters.ts';
import { NotAllowed, NotFound } from './pages/forbidden.ts';
import { JobPage } from './pages/job.ts';
import { JobsPage } from './pages/jobs.ts';
import { SignIn } from './pages/signin.ts';
import { TaskPage } from './pages/task.ts';
import { TasksPage } from './pages/tasks.ts';
import { TokensPage } from './pages/tokens.ts';
import { UsersPage } from './pages/users.ts';
import { Link, navigate, usePath } from './router.ts';
import { forgetSession, mayHaveSession } from './session.ts';
import type { User } from './types.ts';

const NAV = [
  { href: '/clusters', label: 'Clusters', root: false },
  { href: '/tasks', label: 'Tasks', root: false },
  { href: '/jobs', label: 'Jobs', root: false },
  { href: '/tokens', label: 'Tokens', root: true },
  { href: '/users', label: 'Users', root: true },
];

function Page(props: { path: string; user: User }) {
  const [pathname = '/', search = ''] = props.path.split('?');
  const [, section = '', id] = pathname.split('/');
  const root = props.user.role === 'root';
  switch (section) {
    case '':
    case 'clusters':
      return id ? html`<${ClusterPage} id=${Number(id)} user=${props.user} />` : html`<${ClustersPage} user=${props.user} />`;
    case 'tasks':
      return id ? html`<${TaskPage} id=${decodeURIComponent(id)} />` : html`<${TasksPage} search=${search} />`;
    case 'jobs':
      return id ? html`<${JobPage} id=${Number(id)} />` : html`<${JobsPage} />`;
    case 'tokens':
      return root ? html`<${TokensPage} />` : html`<${NotAllowed} what="Personal access tokens" />`;
    case 'users':
      return root ? html`<${UsersPage} user=${props.user} />` : html`<${NotAllowed} what="Users" />`;
    default:
      return html`<${NotFound} />`;
  }
}

function App() {
  // undefined while asking the API who is signed in.
  const [user, setUser] = useState<User | null | undefined>(mayHaveSession() ? undefined : null);
  const path = usePath();
  useEffect(() => {
    whenSignedOut(() => {
      forgetSession();
      setUser(null);
    });
    if (user === undefined) get<User>('/api/v1/users/me').then(setUser, () => setUser(null));
  }, []);
  if (user === undefined) return html`<p class="boot">Loading…</p>`;
  if (user === null) return html`<${SignIn} onSignedIn=${setUser} />`;
  const signOut = async () => {
    try {
      await api('POST', '/api/v1/users/signout');
    } finally {
      forgetSession();
      setUser(null);
      navigate('/', { replace: true });
    }
  };
  const section = `/${path.split('?')[0]!.split('/')[1] ?? ''}`;
  return html`<div class="shell">
    <header class="top">
      <${Link} href="/clusters" class="brand">Dragonfly</${Link}>
      <nav aria-label="main">${NAV.filter((item) => !item.root || user.role === 'root').map(
        (item) => html`<${Link} href=${item.href} class=${section === item.href || (section === '/' && item.href === '/clusters') ? 'current' : ''}>${item.label}</${Link}>`,
      )}</nav>
      <div class="who"><span title=${`role ${user.role}`}>${user.name} <span class="muted">(${user.role})</span></span><button class="secondary small" onClick=${signOut}>Sign out</button></div>
    </header>
    <main class="content"><${Page} path=${path} user=${user} /></main>
  </div>`;
}

// Preact renders beside what is already there: the placeholder goes first.
const root = document.getElementById('app')!;
root.replaceChildren();
render(html`<${App} />`, root);
