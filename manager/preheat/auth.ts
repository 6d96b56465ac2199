/**
 * Registry authentication as the distribution spec and Docker's token protocol define it: a 401
 * carries `WWW-Authenticate` challenges; `Basic` wants the credentials at once, `Bearer
 * realm,service,scope` wants a token from the realm (fetched with the credentials when there are
 * some, anonymously otherwise, which public images on token registries need).
 */
import { PreheatUnauthorizedError, RegistryStatusError, TokenInvalidError } from './errors.ts';
import { boundedGet, registryErrorCodes } from './http.ts';

export interface Challenge {
  /** Lower-case: `basic`, `bearer`, ... */
  readonly scheme: string;
  /** Lower-case parameter names. */
  readonly params: Readonly<Record<string, string>>;
}

export interface Credentials {
  readonly username: string;
  readonly password: string;
}

const TOKEN = /[!#$%&'*+.^_`|~0-9A-Za-z-]+/y;
const TOKEN_BYTES = 64 * 1024;

/**
 * Parses RFC 7235 challenges: `Basic realm="x", Bearer realm="y",service="z"`. A name followed by
 * `=` is a parameter of the current challenge; any other name starts a new one.
 */
export function parseChallenges(header: string): Challenge[] {
  const challenges: Array<{ scheme: string; params: Record<string, string> }> = [];
  let i = 0;
  const readToken = (): string | undefined => {
    TOKEN.lastIndex = i;
    const match = TOKEN.exec(header);
    if (!match) return undefined;
    i = TOKEN.lastIndex;
    return match[0];
  };
  const skip = (chars: string): void => {
    while (i < header.length && chars.includes(header[i]!)) i++;
  };
  while (i < header.length) {
    skip(' \t,');
    const name = readToken();
    if (name === undefined) {
      i++; // Not a token: skip the character rather than loop on it.
      continue;
    }
    skip(' \t');
    const current = challenges.at(-1);
    if (header[i] !== '=' || !current) {
      challenges.push({ scheme: name.toLowerCase(), params: {} });
      continue;
    }
    i++;
    skip(' \t');
    let value = '';
    if (header[i] === '"') {
      i++;
      while (i < header.length && header[i] !== '"') {
        if (header[i] === '\\') i++;
        value += header[i] ?? '';
        i++;
      }
      i++;
    } else {
      value = readToken() ?? '';
    }
    current.params[name.toLowerCase()] = value;
  }
  return challenges;
}

export function basicAuthorization(credentials: Credentials): string {
  return `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64')}`;
}

export interface TokenRequest {
  readonly challenge: Challenge;
  /** Asked for when the challenge names no scope: pull is all a preheat needs. */
  readonly repository: string;
  readonly credentials: Credentials | undefined;
  readonly extraHeaders: Readonly<Record<string, string>>;
  readonly signal: AbortSignal;
}

/** Fetches a bearer token from the challenge's realm; resolves the `Authorization` value. */
export async function fetchBearerToken(req: TokenRequest): Promise<string> {
  const { challenge } = req;
  let realm: URL;
  try {
    realm = new URL(challenge.params.realm ?? '');
  } catch (error) {
    throw new TokenInvalidError('the registry asked for a bearer token without a valid realm URL', { cause: error });
  }
  if (realm.protocol !== 'https:' && realm.protocol !== 'http:') {
    throw new TokenInvalidError(`the registry's token realm must be http or https, got ${realm.protocol}`);
  }
  if (challenge.params.service) realm.searchParams.set('service', challenge.params.service);
  // A challenge may ask for several scopes, space-separated; each goes as its own parameter.
  const scopes = (challenge.params.scope ?? `repository:${req.repository}:pull`).split(' ').filter(Boolean);
  for (const scope of scopes) realm.searchParams.append('scope', scope);

  const headers: Record<string, string> = { ...req.extraHeaders, accept: 'application/json' };
  delete headers.authorization;
  if (req.credentials) headers.authorization = basicAuthorization(req.credentials);
  const what = `a token from ${realm.host}`;
  const response = await boundedGet(realm.href, { headers, maxBytes: TOKEN_BYTES, signal: req.signal, what });
  if (response.status === 401 || response.status === 403) {
    throw new PreheatUnauthorizedError(
      `token service ${realm.host} refused ${req.credentials ? 'the credentials' : 'an anonymous token'} with ${response.status}${registryErrorCodes(response.body)}`,
      response.status,
    );
  }
  if (response.status !== 200) {
    throw new RegistryStatusError(`token service ${realm.host} answered ${response.status}${registryErrorCodes(response.body)}`, response.status);
  }
  let token: unknown;
  try {
    const parsed = JSON.parse(response.body.toString('utf8')) as { token?: unknown; access_token?: unknown };
    token = parsed.token ?? parsed.access_token;
  } catch (error) {
    throw new TokenInvalidError(`token service ${realm.host} answered with something other than JSON`, { cause: error });
  }
  // A token goes into a header line: anything outside visible ASCII would break or inject headers.
  if (typeof token !== 'string' || !/^[\x21-\x7e]+$/.test(token)) {
    throw new TokenInvalidError(`token service ${realm.host} answered without a usable token or access_token`);
  }
  return `Bearer ${token}`;
}
