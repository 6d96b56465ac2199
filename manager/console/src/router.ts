/** Client routes on the History API: the manager answers index.html for every such path. */
import { useEffect, useState } from 'preact/hooks';
import type { ComponentChildren } from 'preact';
import { html } from './html.ts';

const listeners = new Set<() => void>();
const current = () => location.pathname + location.search;

export function navigate(path: string, options: { replace?: boolean } = {}): void {
  if (path === current()) return;
  if (options.replace) history.replaceState(null, '', path);
  else history.pushState(null, '', path);
  for (const listener of listeners) listener();
  window.scrollTo(0, 0);
}

/** The current path and query; re-renders on navigate and on back/forward. */
export function usePath(): string {
  const [path, setPath] = useState(current);
  useEffect(() => {
    const update = () => setPath(current());
    listeners.add(update);
    addEventListener('popstate', update);
    return () => {
      listeners.delete(update);
      removeEventListener('popstate', update);
    };
  }, []);
  return path;
}

/** An anchor that navigates in place; a modified click (new tab) is left to the browser. */
export function Link(props: { href: string; class?: string; children: ComponentChildren }) {
  const onClick = (event: MouseEvent) => {
    if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    event.preventDefault();
    navigate(props.href);
  };
  return html`<a href=${props.href} class=${props.class} onClick=${onClick}>${props.children}</a>`;
}
