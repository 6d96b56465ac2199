/**
 * docker-registry's access log, parsed. The registry prints two logs: a combined (Apache-style)
 * access line per request on stdout, and JSON "response completed" lines on stderr. Only the
 * first has every request: requests refused by htpasswd auth (401) get no "response completed"
 * line, just an "error authorizing context" warning. So this parses stdout's lines:
 *
 *   127.0.0.1 - - [23/Nov/2026:02:20:51 +0000] "GET /v2/test/img/blobs/sha256:f1... HTTP/1.1" 200 2098526 "" "containerd/1.6.20~ds1"
 *
 * The byte count is what the handler wrote: for a HEAD it is the Content-Length announced, and
 * for a transfer cut short it may exceed what reached the client.
 */

/** What a request asked for, by the OCI distribution API's routes. */
export type RequestKind = 'base' | 'manifest' | 'blob' | 'upload' | 'tags' | 'catalog' | 'other';

export interface RegistryRequest {
  readonly method: string;
  /** The request target as sent, query included. */
  readonly uri: string;
  /** `uri` without its query. */
  readonly path: string;
  /** The query without `?` ('' when none), e.g. containerd's `ns=127.0.0.1%3A5000`. */
  readonly query: string;
  readonly status: number;
  /** Bytes the handler wrote (see the module comment for HEAD and cut transfers). */
  readonly bytes: number;
  readonly userAgent: string;
  readonly kind: RequestKind;
  /** The repository, e.g. `test/img`, for manifest, blob, upload and tags routes. */
  readonly repository?: string | undefined;
  /** A manifest's tag or digest. */
  readonly reference?: string | undefined;
  /** A blob's digest (`sha256:...`), for blob routes. */
  readonly digest?: string | undefined;
}

const COMBINED_LINE =
  /^(\S+) (\S+) (\S+) \[([^\]]+)\] "(\S+) (\S+) ([^"]+)" (\d{3}) (\d+|-) "((?:[^"\\]|\\.)*)" "((?:[^"\\]|\\.)*)"$/;
const MANIFEST_OR_BLOB = /^\/v2\/(.+)\/(manifests|blobs)\/([^/]+)$/;
const UPLOAD = /^\/v2\/(.+)\/blobs\/uploads(?:\/.*)?$/;
const TAGS = /^\/v2\/(.+)\/tags\/list$/;

interface Route {
  kind: RequestKind;
  repository?: string;
  reference?: string;
  digest?: string;
}

/** Names the distribution-API route of `path` (no query). */
export function classifyPath(path: string): Route {
  if (path === '/v2/' || path === '/v2') return { kind: 'base' };
  if (path === '/v2/_catalog') return { kind: 'catalog' };
  const upload = UPLOAD.exec(path);
  if (upload) return { kind: 'upload', repository: upload[1]! };
  const tags = TAGS.exec(path);
  if (tags) return { kind: 'tags', repository: tags[1]! };
  const match = MANIFEST_OR_BLOB.exec(path);
  if (match) {
    const [, repository, what, last] = match as unknown as [string, string, string, string];
    return what === 'blobs' ? { kind: 'blob', repository, digest: last } : { kind: 'manifest', repository, reference: last };
  }
  return { kind: 'other' };
}

/** Parses one combined access-log line; undefined for any other line (startup messages and such). */
export function parseAccessLine(line: string): RegistryRequest | undefined {
  const match = COMBINED_LINE.exec(line.trim());
  if (!match) return undefined;
  const method = match[5]!;
  const uri = match[6]!;
  const queryAt = uri.indexOf('?');
  const path = queryAt === -1 ? uri : uri.slice(0, queryAt);
  const query = queryAt === -1 ? '' : uri.slice(queryAt + 1);
  const bytes = match[9] === '-' ? 0 : Number(match[9]);
  return { method, uri, path, query, status: Number(match[8]), bytes, userAgent: match[11]!, ...classifyPath(path) };
}

/** Bytes of successful (2xx) blob GETs, of one digest or of all. */
export function blobBytesServed(requests: readonly RegistryRequest[], digest?: string): number {
  let total = 0;
  for (const request of requests) {
    if (request.kind !== 'blob' || request.method !== 'GET' || request.status < 200 || request.status > 299) continue;
    if (digest !== undefined && request.digest !== digest) continue;
    total += request.bytes;
  }
  return total;
}

/** How many GETs of each blob digest were logged (any status). */
export function blobGetCounts(requests: readonly RegistryRequest[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const request of requests) {
    if (request.kind === 'blob' && request.method === 'GET' && request.digest) {
      counts.set(request.digest, (counts.get(request.digest) ?? 0) + 1);
    }
  }
  return counts;
}
