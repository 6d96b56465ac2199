/**
 * Whether this browser holds a session. The cookie itself is HttpOnly, so the sign-in's `expire`
 * is kept beside it: without one the app shows the sign-in page at once instead of asking the API
 * (and logging a 401 in the browser console) on every first visit.
 */
const KEY = 'dfmanager.session.expire';

export function rememberSession(expire: string): void {
  localStorage.setItem(KEY, expire);
}

export function forgetSession(): void {
  localStorage.removeItem(KEY);
}

export function mayHaveSession(now = Date.now()): boolean {
  const expire = Date.parse(localStorage.getItem(KEY) ?? '');
  return Number.isFinite(expire) && expire > now;
}
