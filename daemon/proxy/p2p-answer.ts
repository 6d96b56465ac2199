/**
 * Answering a proxied GET from a P2P task, the same for the registry mirror and the HTTP proxy:
 * stream the task, finish from the origin if P2P fails mid-answer, and fetch directly (through
 * `passThrough`) if it fails before the answer started. `proxy.disableBackToSource` forbids both.
 */
import type { ServerResponse } from 'node:http';
import { taskIdOf } from '../../api/index.ts';
import type { TaskRequest } from '../tasks/request.ts';
import type { RangeRequest } from './byte-range.ts';
import type { ProxyContext } from './context.ts';
import { UpstreamError } from './errors.ts';
import { streamTask } from './task-stream.ts';

export interface P2pAnswer {
  readonly spec: TaskRequest;
  readonly res: ServerResponse;
  readonly range: RangeRequest;
  readonly signal: AbortSignal;
  /** Sent with the answer besides the length, range and `X-Dragonfly-Task-ID`. */
  readonly headers: Readonly<Record<string, string>>;
  /** The direct fetch when P2P fails before the answer started. */
  readonly passThrough: () => Promise<void>;
}

export async function answerViaP2p(context: ProxyContext, answer: P2pAnswer): Promise<void> {
  const { spec, res, signal } = answer;
  const taskId = taskIdOf(spec);
  const direct = !context.disableBackToSource;
  context.metrics.proxyRequestsViaP2p.inc();
  try {
    await streamTask(context.tasks, {
      spec,
      res,
      range: answer.range,
      signal,
      headers: { ...answer.headers, 'x-dragonfly-task-id': taskId },
      fromOrigin: direct ? (start, end, rangeSignal) => fetchRange(context, spec.url, spec.headers, start, end, rangeSignal) : undefined,
    });
  } catch (error) {
    if (res.headersSent || signal.aborted || !direct) throw error;
    context.log.warn('P2P failed before the answer started; fetching directly', { taskId, url: spec.url, error });
    await answer.passThrough();
  }
}

/** Bytes [start, end] of `url` straight from the upstream. */
async function fetchRange(context: ProxyContext, url: string, headers: Readonly<Record<string, string>>, start: number, end: number, signal: AbortSignal): Promise<AsyncIterable<Uint8Array>> {
  const answer = await context.upstreams.request({ url, method: 'GET', headers: { ...headers, range: `bytes=${start}-${end}` }, signal });
  const contentRange = answer.headers['content-range'];
  const startsRight = answer.statusCode === 206 ? typeof contentRange === 'string' && contentRange.startsWith(`bytes ${start}-`) : answer.statusCode === 200 && start === 0;
  if (!startsRight) {
    void answer.body.dump();
    throw new UpstreamError(`${url} answered ${answer.statusCode} ${typeof contentRange === 'string' ? contentRange : ''} to a request for bytes ${start}-${end}`);
  }
  return answer.body;
}
