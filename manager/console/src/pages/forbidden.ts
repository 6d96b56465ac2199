/** What a guest sees on a root-only page: why, and nothing of the data. */
import { html } from '../html.ts';
import { Link } from '../router.ts';

export function NotAllowed(props: { what: string }) {
  return html`<section class="not-allowed" role="alert">
    <h1>Not allowed</h1>
    <p>${props.what} are for users with the <b>root</b> role. You are signed in as a guest.</p>
    <p>Ask a root user if you need a token or an account changed. <${Link} href="/clusters">Back to clusters</${Link}></p>
  </section>`;
}

export function NotFound() {
  return html`<section class="not-allowed"><h1>No such page</h1><p><${Link} href="/clusters">Go to clusters</${Link}></p></section>`;
}
