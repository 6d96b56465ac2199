/**
 * The manager's REST API from the browser. The session is the HttpOnly `jwt` cookie the sign-in
 * sets, so requests carry no token and page scripts never see one. Every failure becomes an
 * ApiError whose message is the API's own words (`{code, message}`), or says what went wrong on
 * the way when there was no answer.
 */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  readonly status: number;
  readonly code: string;
  constructor(status: number, code: string, message: string) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** Called when an answer says the session is gone, so the app can show the sign-in page. */
let onUnauthenticated: () => void = () => {};
export function whenSignedOut(callback: () => void): void {
  onUnauthenticated = callback;
}

export async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  let response: Response;
  try {
    response = await fetch(path, {
      method,
      credentials: 'same-origin',
      headers: body === undefined ? { accept: 'application/json' } : { accept: 'application/json', 'content-type': 'application/json' },
      ...(body !== undefined && { body: JSON.stringify(body) }),
    });
  } catch {
    throw new ApiError(0, 'DF_ERR_UNREACHABLE', 'The manager did not answer. Is it running, and is this its address?');
  }
  const text = await response.text();
  let parsed: unknown;
  try {
    parsed = text === '' ? undefined : JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  if (!response.ok) {
    const error = (parsed ?? {}) as { code?: string; message?: string };
    const message = error.message ?? `The manager answered ${response.status} ${response.statusText}.`;
    if (response.status === 401 && !path.endsWith('/users/signin')) onUnauthenticated();
    throw new ApiError(response.status, error.code ?? 'DF_ERR_HTTP', message);
  }
  return parsed as T;
}

export const get = <T>(path: string) => api<T>('GET', path);

/** `?a=1&b=2` from the defined, non-empty values. */
export function query(params: Record<string, string | number | undefined>): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) if (value !== undefined && value !== '') search.set(key, String(value));
  const text = search.toString();
  return text === '' ? '' : `?${text}`;
}
