/**
 * What each HTTP listener is fuzzed with, and how its answers are judged. The piece server gets
 * paths around `/pieces/<taskId>/<n>`; the proxy absolute-form URLs to the loopback origin and
 * CONNECT authorities; the mirror `/v2/` paths with names, references, digests, `?ns=` and
 * `X-Dragonfly-Registry`; the manager its REST routes with bodies of the wrong shape.
 */
import { describeRequest, encodeRequest, frame, keepLoopback, leavesLoopback, methodOf, rangeValue, segment, TRAVERSALS, type RawRequest } from './http.ts';
import type { Rng } from './rng.ts';
import type { FuzzListener, Verdict } from './run.ts';
import { sendRawHttp, type HttpAnswer } from './send.ts';

const HEX = '0123456789abcdef';

/** A task id as callers get it wrong: case, length, traversal, encodings. */
function taskIdText(rng: Rng, known: readonly string[]): string {
  return rng.weighted<() => string>([
    [3, () => rng.pick(known)],
    [3, () => rng.string(HEX, 64)],
    [1, () => rng.string(HEX, 64).toUpperCase()],
    [1, () => rng.string(HEX, rng.pick([0, 1, 63, 65, 128]))],
    [2, () => segment(rng)],
    [1, () => `${rng.string(HEX, 62)}${rng.pick(['%2e', '..', '/.', 'g0'])}`],
  ])();
}

export interface PieceServerTarget {
  readonly port: number;
  /** Ids of tasks the daemon has, so some requests get past the task check. */
  readonly taskIds: readonly string[];
}

export function pieceServerRequest(rng: Rng, target: PieceServerTarget): RawRequest {
  const path = rng.weighted<() => string>([
    [10, () => `/pieces/${taskIdText(rng, target.taskIds)}/${rng.weighted<() => string>([[3, () => String(rng.int(0, 3))], [3, () => rng.edgeNumber()], [2, () => segment(rng)]])()}`],
    [2, () => `/pieces/${taskIdText(rng, target.taskIds)}/${rng.int(0, 2)}/${segment(rng)}`],
    [2, () => `/${rng.pick(['pieces', 'Pieces', 'pieces/', '', 'metrics', 'healthy'])}/${segment(rng)}/${segment(rng)}`],
    [1, () => rng.pick(['/', '*', '/pieces', '/pieces/', '//pieces//', `http://127.0.0.1:${target.port}/pieces/${rng.pick(target.taskIds)}/0`, '/pieces/../../../../etc/passwd/0'])],
    [1, () => `/pieces/${rng.pick(target.taskIds)}/0?${segment(rng)}=${segment(rng)}`],
  ])();
  const headers: Array<[string, string]> = [];
  if (rng.chance(0.2)) headers.push(['X-Dragonfly-Relay', rng.pick(['1', 'true', '0', '', segment(rng)])]);
  return frame(rng, { method: methodOf(rng, ['GET']), target: path, headers });
}

export interface ProxyTarget {
  readonly port: number;
  readonly originPort: number;
  /** Paths the origin serves (some under a `proxy.rules` prefix, so they go through P2P). */
  readonly originPaths: readonly string[];
  /** A loopback port nothing listens on. */
  readonly closedPort: number;
}

function absoluteUrl(rng: Rng, target: ProxyTarget): string {
  const origin = `127.0.0.1:${target.originPort}`;
  const path = () => rng.weighted<() => string>([[5, () => rng.pick(target.originPaths)], [3, () => `${rng.pick(target.originPaths)}/${segment(rng)}`], [2, () => `/${segment(rng)}/${segment(rng)}`]])();
  const query = () => (rng.chance(0.3) ? `?${segment(rng)}=${segment(rng)}&X-Amz-Signature=${segment(rng)}` : '');
  return rng.weighted<() => string>([
    [10, () => `http://${origin}${path()}${query()}`],
    [1, () => `https://${origin}${path()}`],
    [1, () => `http://127.0.0.1:${target.closedPort}${path()}`],
    [1, () => `http://[::1]:${target.closedPort}/`],
    [1, () => `http://user:${segment(rng)}@${origin}${path()}`],
    [1, () => rng.pick(['http://127.0.0.1:99999/', 'http://127.0.0.1:0/', `ftp://${origin}/`, 'file:///etc/passwd', 'javascript:alert(1)', 'http:', 'http:/', 'http://', `HTTP://${origin}/`, 'http://[::1/', 'http://127.0.0.1:-1/', `http://${origin}:80/`, 'data:,x'])],
  ])();
}

function dragonflyHeader(rng: Rng): [string, string] {
  return rng.pick<() => [string, string]>([
    () => ['X-Dragonfly-Use-P2P', rng.pick(['true', 'false', 'TRUE', 'yes', '', segment(rng)])],
    () => ['X-Dragonfly-Priority', rng.pick(['0', '6', '7', '-1', 'LEVEL1', rng.edgeNumber()])],
    () => ['X-Dragonfly-Piece-Length', rng.pick(['4MiB', '64MiB', '1', '3MiB', '65MiB', '4 MiB', 'x', rng.edgeNumber(), '1e400'])],
    () => ['X-Dragonfly-Filtered-Query-Params', rng.pick([',,,', 'a,b', segment(rng)])],
    () => ['X-Dragonfly-Tag', rng.pick(['', 'x'.repeat(1025), segment(rng)])],
    () => ['X-Dragonfly-Application', segment(rng)],
    () => ['X-Dragonfly-Content-For-Calculating-Task-Id', segment(rng)],
  ])();
}

export function proxyRequest(rng: Rng, target: ProxyTarget): RawRequest {
  if (rng.chance(0.08)) {
    const authority = rng.pick([`127.0.0.1:${target.closedPort}`, `127.0.0.1:${target.originPort}`, '127.0.0.1', '127.0.0.1:0', '127.0.0.1:70000', `[::1]:${target.closedPort}`, ':80', '[::1', segment(rng)]);
    return frame(rng, { method: 'CONNECT', target: leavesLoopback(authority) && /:\d+$/.test(authority) ? `127.0.0.1:${target.closedPort}` : authority });
  }
  const headers: Array<[string, string]> = [];
  for (let i = rng.int(0, 2); i > 0; i--) headers.push(dragonflyHeader(rng));
  if (rng.chance(0.3)) headers.push(['Range', rangeValue(rng)]);
  const method = methodOf(rng, ['GET', 'GET', 'HEAD', 'POST']);
  const body = method === 'POST' || method === 'PUT' ? rng.bytes(rng.int(0, 2_000)) : undefined;
  return frame(rng, { method, target: absoluteUrl(rng, target), headers, body });
}

export interface MirrorTarget {
  readonly port: number;
  /** `host:port` of a registry on loopback (or a closed port when none runs). */
  readonly registry: string;
  readonly closedPort: number;
  /** A repository and digests that exist there, so some requests get as far as P2P. */
  readonly name: string;
  readonly digests: readonly string[];
}

function registryAddress(rng: Rng, target: MirrorTarget): string {
  const value = rng.weighted<() => string>([
    [4, () => target.registry],
    [2, () => `http://${target.registry}`],
    [1, () => `https://${target.registry}`],
    [1, () => `127.0.0.1:${target.closedPort}`],
    [3, () => rng.pick([`${target.registry}/v2`, `user@${target.registry}`, `ftp://${target.registry}`, 'a b', '', ' ', '[::1]:99999', '127.0.0.1:', '%2e%2e', `${target.registry}#x`, `http://${target.registry}/../x`, 'x'.repeat(2000)])],
    [2, () => segment(rng)],
  ])();
  return leavesLoopback(value) ? `127.0.0.1:${target.closedPort}` : value;
}

function repositoryName(rng: Rng, target: MirrorTarget): string {
  return rng.weighted<() => string>([
    [5, () => target.name],
    [1, () => 'library/alpine'],
    [1, () => rng.pick(['Test/Img', 'test//img', 'test/img/', '/test/img', 'a'.repeat(300), '-a', 'a__b', 'a___b'])],
    [2, () => `${target.name}/${rng.pick(TRAVERSALS)}`],
    [2, () => `${segment(rng)}/${segment(rng)}`],
  ])();
}

function digestText(rng: Rng, target: MirrorTarget): string {
  return rng.weighted<() => string>([
    [4, () => rng.pick(target.digests)],
    [2, () => `sha256:${rng.string(HEX, 64)}`],
    [1, () => `sha512:${rng.string(HEX, 128)}`],
    [3, () => rng.pick([`sha256:${rng.string(HEX, 63)}`, `sha256:${rng.string(HEX, 64).toUpperCase()}`, `md5:${rng.string(HEX, 32)}`, 'sha256:', ':abc', 'sha256', 'sha256:../../x', `sha256+b64:${rng.string('ABCabc=', 20)}`, `SHA256:${rng.string(HEX, 64)}`])],
    [1, () => segment(rng)],
  ])();
}

export function mirrorRequest(rng: Rng, target: MirrorTarget): RawRequest {
  const path = rng.weighted<() => string>([
    [6, () => `/v2/${repositoryName(rng, target)}/blobs/${digestText(rng, target)}`],
    [4, () => `/v2/${repositoryName(rng, target)}/manifests/${rng.weighted<() => string>([[2, () => digestText(rng, target)], [2, () => rng.pick(['1', 'latest', '-x', '.', 'a'.repeat(129), 'a:b'])], [1, () => segment(rng)]])()}`],
    [1, () => `/v2/${repositoryName(rng, target)}/tags/list`],
    [1, () => `/v2/${repositoryName(rng, target)}/blobs/uploads/${segment(rng)}`],
    [1, () => `/v2/${repositoryName(rng, target)}/referrers/${digestText(rng, target)}`],
    [1, () => rng.pick(['/v2/', '/v2', '/v2/_catalog', '/v3/', '/', '/v2/../v2/', '/v2/%2e%2e/x/blobs/sha256:00', '//v2/'])],
    [1, () => `/v2/${segment(rng)}`],
  ])();
  const ns = rng.weighted<() => string>([
    [4, () => ''],
    [4, () => `?ns=${encodeURIComponent(registryAddress(rng, target))}`],
    [1, () => `?ns=${registryAddress(rng, target)}`.replace(/[#\s]/g, '')],
    [1, () => `?ns=${encodeURIComponent(registryAddress(rng, target))}&ns=${encodeURIComponent(registryAddress(rng, target))}`],
    [1, () => `?${segment(rng)}`.replace(/[#\s]/g, '')],
  ])();
  const headers: Array<[string, string]> = [];
  if (rng.chance(0.4)) headers.push(['X-Dragonfly-Registry', registryAddress(rng, target)]);
  if (rng.chance(0.3)) headers.push(['Range', rangeValue(rng)]);
  if (rng.chance(0.2)) headers.push(dragonflyHeader(rng));
  if (rng.chance(0.2)) headers.push(['Accept', rng.pick(['application/vnd.oci.image.manifest.v1+json', '*/*', '', segment(rng)])]);
  const request = frame(rng, { method: methodOf(rng, ['GET', 'GET', 'HEAD']), target: `${path}${ns}`, headers });
  // What the server will decode must not name a remote registry (a `?ns=` written raw may decode to one).
  const query = request.target.includes('?') ? request.target.slice(request.target.indexOf('?') + 1) : '';
  let decoded: string[] = [];
  try {
    decoded = new URLSearchParams(query).getAll('ns');
  } catch {
    decoded = [];
  }
  if (decoded.some(leavesLoopback)) return { ...request, target: path };
  return request;
}

export interface RestTarget {
  readonly port: number;
  /** A root sign-in token, sent with some requests so they get past authentication. */
  readonly token: string;
}

const REST_ROUTES = [
  '/api/v1/applications', '/api/v1/clusters', '/api/v1/configs', '/api/v1/events', '/api/v1/jobs', '/api/v1/personal-access-tokens',
  '/api/v1/schedulers', '/api/v1/seed-peers', '/api/v1/scheduler-clusters', '/api/v1/seed-peer-clusters', '/api/v1/tasks', '/api/v1/users',
  '/api/v1/users/me', '/api/v1/users/signin', '/api/v1/users/signup', '/api/v1/users/signout', '/api/v1/users/refresh_token', '/oapi/v1/clusters',
  '/oapi/v1/jobs', '/healthy', '/metrics', '/openapi.json', '/', '/index.html', '/assets/app.js',
];

function jsonValue(rng: Rng, depth = 0): unknown {
  return rng.weighted<() => unknown>([
    [3, () => segment(rng)],
    [2, () => rng.pick([0, -1, 1.5, 2 ** 53 + 2, 1e308, -1e308, 65536, 4294967296])],
    [1, () => rng.pick([true, false, null])],
    [1, () => (depth < 3 ? Array.from({ length: rng.int(0, 4) }, () => jsonValue(rng, depth + 1)) : [])],
    [1, () => (depth < 3 ? jsonObject(rng, depth + 1) : {})],
    [1, () => rng.pick(['127.0.0.1', '::1', 'x'.repeat(70_000), '', ' '])],
  ])();
}

const FIELDS = ['name', 'password', 'new_password', 'old_password', 'email', 'id', 'type', 'args', 'url', 'urls', 'ip', 'hostname', 'port', 'scopes', 'config', 'bio', 'state', 'expired_at', 'scheduler_cluster_id', 'seed_peer_cluster_id', 'is_default', 'idc', 'location', 'cidrs', 'priority', 'role', 'tag', 'application', 'page', 'per_page', '__proto__', 'constructor'];

function jsonObject(rng: Rng, depth = 0): Record<string, unknown> {
  return Object.fromEntries(Array.from({ length: rng.int(0, 6) }, () => [rng.chance(0.85) ? rng.pick(FIELDS) : segment(rng), jsonValue(rng, depth)]));
}

function restBody(rng: Rng): { body: Buffer; type: string | undefined } {
  return rng.weighted<() => { body: Buffer; type: string | undefined }>([
    [6, () => ({ body: Buffer.from(JSON.stringify(keepLoopback(jsonObject(rng)))), type: 'application/json' })],
    [1, () => ({ body: Buffer.from(rng.pick(['{', '{"a":', 'null', '[]', '"x"', '1', '{"a":1,"a":2}', '\u0000', '{"__proto__":{"admin":true}}'])), type: 'application/json' })],
    [1, () => ({ body: Buffer.from('['.repeat(rng.int(1_000, 50_000))), type: 'application/json' })],
    [1, () => ({ body: Buffer.from(`${'{"a":'.repeat(5_000)}1${'}'.repeat(5_000)}`), type: 'application/json' })],
    [1, () => ({ body: rng.bytes(rng.int(1, 300)), type: rng.pick(['application/json', 'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/json; charset=utf-16', undefined]) })],
    [0.2, () => ({ body: Buffer.alloc(rng.int(1_100_000, 1_500_000), 0x20), type: 'application/json' })],
  ])();
}

export function restRequest(rng: Rng, target: RestTarget): RawRequest {
  const base = rng.pick(REST_ROUTES);
  const path = rng.weighted<() => string>([
    [4, () => base],
    [4, () => `${base}/${rng.weighted<() => string>([[3, () => rng.edgeNumber()], [2, () => segment(rng)], [1, () => String(rng.int(1, 5))]])()}`],
    [1, () => `${base}/${rng.int(1, 3)}/${rng.pick(['roles', 'roles/root', 'roles/guest', 'reset_password', segment(rng)])}`],
    [2, () => `${base}?${rng.pick(['page', 'per_page', 'type', 'state', 'name', segment(rng)])}=${rng.pick([rng.edgeNumber(), segment(rng)])}`],
  ])();
  const method = methodOf(rng, ['GET', 'GET', 'POST', 'PATCH', 'PUT', 'DELETE']);
  const authorized = rng.chance(0.6);
  // Jobs (preheat, task jobs) reach out to registries and schedulers: an authorized client never creates one here.
  const safeMethod = !authorized || !/jobs/i.test(path) || method === 'GET' || method === 'HEAD';
  const headers: Array<[string, string]> = [];
  if (authorized && safeMethod) headers.push(['Authorization', `Bearer ${target.token}`]);
  let body: Buffer | undefined;
  if (method !== 'GET' && method !== 'HEAD' && rng.chance(0.8)) {
    const b = restBody(rng);
    body = b.body;
    if (b.type) headers.push(['Content-Type', b.type]);
  }
  return frame(rng, { method, target: path, headers, body });
}

/** How an HTTP answer is judged: any 5xx is ours unless the proxy says the upstream failed. */
export function judgeHttp(answer: HttpAnswer, options: { upstreamFaultsAllowed: boolean }): Verdict {
  const { ms } = answer;
  switch (answer.kind) {
    case 'timeout':
      return { label: 'no answer', ms, problem: `hang: no answer within the timeout` };
    case 'refused':
      return { label: 'refused', ms, problem: 'connection refused: the process is down' };
    case 'closed':
      return { label: 'closed', ms };
    case 'answer': {
      const status = answer.status!;
      const type = answer.headers['x-dragonfly-error-type'];
      const label = status >= 500 && type ? `${status} (${type})` : String(status);
      if (status >= 500 && !(options.upstreamFaultsAllowed && type === 'backend')) {
        return { label, ms, problem: `status ${status}${type ? ` (x-dragonfly-error-type: ${type})` : ''}` };
      }
      return { label, ms };
    }
  }
}

/** A listener fuzzed with raw HTTP requests from `generate`. */
export function httpListener(name: string, port: number, generate: (rng: Rng) => RawRequest, options: { upstreamFaultsAllowed: boolean; timeoutMs: number }): FuzzListener<RawRequest> {
  return {
    name,
    generate,
    describe: describeRequest,
    send: async (request) => judgeHttp(await sendRawHttp(port, encodeRequest(request), { timeoutMs: options.timeoutMs, halfClose: request.halfClose }), options),
  };
}
