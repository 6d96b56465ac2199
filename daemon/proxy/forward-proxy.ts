/**
 * HTTP proxy mode: absolute-form requests (`curl -x http://127.0.0.1:4001 http://origin/file`) and
 * requests inside an intercepted CONNECT tunnel. GETs whose URL matches `proxy.rules` (or that
 * carry `X-Dragonfly-Use-P2P: true`) are answered from a P2P task; everything else goes straight
 * to the origin, body and all.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { taskIdOf } from '../../api/index.ts';
import { parseRangeHeader } from './byte-range.ts';
import { proxySpec, type ProxyContext } from './context.ts';
import { ProxyRequestError } from './errors.ts';
import { fetchRange } from './registry-mirror.ts';
import { dragonflyControls, forwardedHeaders } from './request-headers.ts';
import { applyRule, matchRule } from './rules.ts';
import { streamTask } from './task-stream.ts';
import { relayAnswer } from './upstream-client.ts';

/** Request headers that would make the origin's bytes differ from the task's, or ask for a part. */
const NOT_FOR_TASKS = ['range', 'if-range', 'if-none-match', 'if-modified-since', 'accept-encoding'];

export async function handleForward(context: ProxyContext, req: IncomingMessage, res: ServerResponse, target: URL, signal: AbortSignal): Promise<void> {
  if (target.protocol !== 'http:' && target.protocol !== 'https:') {
    throw new ProxyRequestError('UNSUPPORTED', `${target.protocol} URLs cannot be proxied: http or https only`);
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
  const spec = proxySpec(source.href, taskHeaders, { ...controls, filteredQueryParams }, { disableBackToSource: context.disableBackToSource });
  const taskId = taskIdOf(spec);
  context.metrics.proxyRequestsViaP2p.inc();
  try {
    await streamTask(context.tasks, {
      spec,
      res,
      range,
      signal,
      headers: { 'content-type': 'application/octet-stream', 'x-dragonfly-task-id': taskId },
      fromOrigin: context.disableBackToSource ? undefined : (start, end, rangeSignal) => fetchRange(context, source.href, taskHeaders, start, end, rangeSignal),
    });
  } catch (error) {
    if (res.headersSent || signal.aborted || context.disableBackToSource) throw error;
    context.log.warn('P2P failed before the answer started; fetching directly', { taskId, url: source.href, error });
    await passThrough(source);
  }
}
