/**
 * The OCI distribution pull API as the mirror sees it: which request is which, with the
 * repository name, reference and digest checked against the spec's grammar before anything is
 * fetched. Pure: no I/O.
 */
import { BadProxyRequestError, ProxyRouteNotFoundError } from './errors.ts';

export type RegistryRoute =
  | { readonly kind: 'ping' }
  | { readonly kind: 'manifest'; readonly name: string; readonly reference: string }
  | { readonly kind: 'blob'; readonly name: string; readonly digest: string }
  /** Tags lists, referrers and the like: passed through as they are. */
  | { readonly kind: 'other'; readonly name: string | undefined };

// The distribution spec's grammar (path components joined by '/', each lower-case alphanumerics
// with single separators): '..', '%2e' and empty components can never match, so nothing
// traverses a path upstream.
const NAME = /^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*$/;
const TAG = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/;
const DIGEST = /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;
const KNOWN_DIGESTS: Readonly<Record<string, RegExp>> = { sha256: /^[a-f0-9]{64}$/, sha512: /^[a-f0-9]{128}$/ };
const MAX_NAME = 255;

export function checkName(name: string): string {
  if (name.length > MAX_NAME || !NAME.test(name)) {
    throw new BadProxyRequestError('NAME_INVALID', `repository name ${JSON.stringify(name.slice(0, 80))} is not valid: lower-case path components like library/alpine`);
  }
  return name;
}

export function checkDigest(digest: string): string {
  const colon = digest.indexOf(':');
  const algorithm = digest.slice(0, colon);
  const known = KNOWN_DIGESTS[algorithm];
  if (!DIGEST.test(digest) || (known && !known.test(digest.slice(colon + 1)))) {
    throw new BadProxyRequestError('DIGEST_INVALID', `${JSON.stringify(digest.slice(0, 140))} is not a digest like sha256:<64 hex>`);
  }
  if (!known) throw new BadProxyRequestError('DIGEST_INVALID', `digest algorithm ${JSON.stringify(algorithm)} is not supported: sha256 or sha512`);
  return digest;
}

function checkReference(reference: string): string {
  if (reference.includes(':')) return checkDigest(reference);
  if (!TAG.test(reference)) throw new BadProxyRequestError('TAG_INVALID', `${JSON.stringify(reference.slice(0, 140))} is not a tag or digest`);
  return reference;
}

/** Classifies an origin-form request path (without its query) under `/v2/`. */
export function parseRegistryPath(path: string): RegistryRoute {
  if (path === '/v2' || path === '/v2/') return { kind: 'ping' };
  if (!path.startsWith('/v2/')) throw new ProxyRouteNotFoundError('NAME_UNKNOWN', `${JSON.stringify(path.slice(0, 80))} is not a registry API path: they start with /v2/`);
  const rest = path.slice(4);
  const match = /^(.+)\/(manifests|blobs)\/([^/]+)$/.exec(rest);
  if (match) {
    const [, name, kind, reference] = match as unknown as [string, string, string, string];
    if (kind === 'blobs' && reference === 'uploads') return { kind: 'other', name: checkName(name) };
    return kind === 'manifests'
      ? { kind: 'manifest', name: checkName(name), reference: checkReference(reference) }
      : { kind: 'blob', name: checkName(name), digest: checkDigest(reference) };
  }
  const other = /^(.+)\/(?:tags\/list|referrers\/[^/]+|blobs\/uploads\/.*)$/.exec(rest);
  if (other) return { kind: 'other', name: checkName(other[1]!) };
  if (rest === '_catalog') return { kind: 'other', name: undefined };
  throw new ProxyRouteNotFoundError('NAME_INVALID', `${JSON.stringify(path.slice(0, 120))} is not a registry API path this mirror knows`);
}
