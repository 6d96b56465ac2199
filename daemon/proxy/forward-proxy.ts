/**
 * HTTP proxy mode: absolute-form requests (`curl -x http://127.0.0.1:4001 http://origin/file`) and
 * requests inside an intercepted CONNECT tunnel. GETs whose URL matches `proxy.rules` (or that
 * carry `X-Dragonfly-Use-P2P: true`) are answered from a P2P task; everything else goes straight
 * to the origin, body and all.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { parseRangeHeader } from './byte-range.ts';
import { proxyRequest, type ProxyContext } from './context.ts';
import { BadProxyRequestError } from './errors.ts';
import { answerViaP2p } from './p2p-answer.ts';
import { dragonflyControls, forwardedHeaders } from './request-headers.ts';
import { applyRule, matchRule } from './rules.ts';
import { relayAnswer } from './upstream-client.ts';

/** Request headers that would make the origin's bytes differ from the task's, or ask for a part. */
const NOT_FOR_TASKS = ['range', 'if-range', 'if-none-match', 'if-modified-since', 'accept-encoding'];

export async function handleForward(context: ProxyContext, req: IncomingMessage, res: ServerResponse, target: URL, signal: AbortSignal): Promise<void> {
  if (target.protocol !== 'http:' && target.protocol !== 'https:') {
    throw new BadProxyRequestError('UNSUPPORTED', `${target.protocol} URLs cannot be proxied: http or https only`);
  }
  const method = req.method ?? 'GET';
  const controls = dragonflyControls(req.headers);
  const rule = matchRule(context.rules, target);
  const range = parseRangeHeader(req.headers.range);
  const headers = forwardedHeaders(req.headers);
  const passThrough = async (url: URL) => {
    const hasBody = method !== 'GET' && method !== 'HEAD';
    await relayAnswer(await context.upstreams.request({ url: url.href, method, headers, body: hasBody ? req : undefined, signal, followRedirects: false }), res);
  };
  const viaP2p = method === 'GET' && (controls.useP2p ?? rule !== undefined) && range.kind !== 'other';
  if (!viaP2p) return passThrough(target);

  const source = rule ? applyRule(rule, target) : target;
  const taskHeaders = forwardedHeaders(req.headers, { drop: NOT_FOR_TASKS });
  const filteredQueryParams = controls.filteredQueryParams ?? (rule && rule.filteredQueryParams.length > 0 ? rule.filteredQueryParams : undefined);
  const spec = proxyRequest(source.href, taskHeaders, { ...controls, filteredQueryParams }, { disableBackToSource: context.disableBackToSource });
  await answerViaP2p(context, { spec, res, range, signal, headers: { 'content-type': 'application/octet-stream' }, passThrough: () => passThrough(source) });
}
