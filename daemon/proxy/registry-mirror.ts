/**
 * The registry mirror: origin-form requests (`GET /v2/...`) from containerd, CRI-O, podman and
 * skopeo. Manifests, pings, tag lists and errors pass straight through (the client runs its own
 * token flow against the 401s it sees); blob GETs the upstream allows this client to read come
 * through P2P, one task per blob digest whatever the repository or registry.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { parseRangeHeader } from './byte-range.ts';
import { proxyRequest, type ProxyContext } from './context.ts';
import { ProxyMethodNotAllowedError } from './errors.ts';
import { answerViaP2p } from './p2p-answer.ts';
import { parseRegistryPath } from './registry-routes.ts';
import { dragonflyControls, forwardedHeaders } from './request-headers.ts';
import { REGISTRY_API_HEADER } from './upstream-checks.ts';
import { chooseUpstream } from './upstream.ts';
import { relayAnswer } from './upstream-client.ts';

/**
 * Blobs up to this size skip P2P (Dragonfly skips it up to 4 MiB for every task): image configs
 * and tiny layers, where scheduling costs more than the registry's bytes. Larger layers, even of a
 * few MiB, go through P2P, since every node of a cluster pulls them at once.
 */
export const MIRROR_DIRECT_MAX_BYTES = 64 * 1024;

export async function handleMirror(context: ProxyContext, req: IncomingMessage, res: ServerResponse, signal: AbortSignal): Promise<void> {
  // The raw path, not URL's normalized one: `/v2/a/../b` must be refused, not quietly rewritten.
  const rawPath = (req.url ?? '/').split('?')[0]!;
  const route = parseRegistryPath(rawPath);
  const url = new URL(req.url ?? '/', 'http://mirror.invalid');
  const method = req.method ?? 'GET';
  if (method !== 'GET' && method !== 'HEAD') {
    throw new ProxyMethodNotAllowedError(`${method} ${rawPath.slice(0, 120)}: this mirror serves pulls only (GET and HEAD)`);
  }
  const controls = dragonflyControls(req.headers);
  const upstream = chooseUpstream({ header: controls.registry, ns: url.searchParams.get('ns'), configured: context.registryMirrorAddr });
  if (upstream.from !== 'config') await context.probe.check(upstream.base, signal);
  url.searchParams.delete('ns');
  const target = `${upstream.base}${rawPath}${url.search}`;
  const headers = forwardedHeaders(req.headers);
  const passThrough = async () => relayAnswer(await context.upstreams.request({ url: target, method, headers, signal }), res);

  const range = parseRangeHeader(req.headers.range);
  if (route.kind !== 'blob' || method !== 'GET' || controls.useP2p === false || range.kind === 'other') return passThrough();

  const authorization = headers.authorization;
  const access = await context.access.check(target, authorization, signal);
  // Whatever the upstream says to this client (401 with its challenge, 404, 5xx) is what it gets.
  if (!access.ok) return passThrough();

  const credentials: Record<string, string> = authorization ? { authorization } : {};
  const spec = proxyRequest(target, credentials, controls, {
    enableTaskIdBasedBlobDigest: true,
    digest: route.digest,
    disableBackToSource: context.disableBackToSource,
    directFromOriginMaxBytes: MIRROR_DIRECT_MAX_BYTES,
  });
  await answerViaP2p(context, {
    spec,
    res,
    range,
    signal,
    headers: {
      'content-type': access.contentType ?? 'application/octet-stream',
      'docker-content-digest': route.digest,
      [REGISTRY_API_HEADER]: 'registry/2.0',
    },
    passThrough,
  });
}
