/**
 * One client process of `npm run bench:mirror -- --concurrent N` (forked by concurrent.ts; the
 * bench runs several so that one event loop hashing bodies is not what is measured). Told a list
 * of blob GETs, it starts them all at once, each on its own connection as separate hosts would,
 * and answers each request's outcome: times to headers, first and last body byte, and what went
 * wrong if anything (a non-2xx status, a reset, a short body, a wrong sha256, an idle timeout).
 */
import { createHash } from 'node:crypto';
import { request } from 'node:http';
import { monitorEventLoopDelay } from 'node:perf_hooks';

export interface LoadJob {
  readonly id: number;
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly digest: string;
  readonly size: number;
}

export type Failure = 'status' | 'reset' | 'short' | 'digest' | 'timeout' | 'other';

export interface LoadOutcome {
  readonly id: number;
  readonly status: number;
  readonly bytes: number;
  /** From just before the request is made; NaN when the event did not happen. */
  readonly headersMs: number;
  readonly firstByteMs: number;
  readonly lastByteMs: number;
  readonly failure?: Failure | undefined;
  readonly message?: string | undefined;
}

export type ToClient = { readonly type: 'run'; readonly jobs: readonly LoadJob[]; readonly idleTimeoutMs: number } | { readonly type: 'exit' };
export type FromClient =
  | { readonly type: 'ready' }
  | { readonly type: 'done'; readonly outcomes: readonly LoadOutcome[]; readonly loopDelayMs: { readonly p99: number; readonly max: number } };

const RESET_CODES = new Set(['ECONNRESET', 'EPIPE', 'ECONNREFUSED', 'ECONNABORTED']);

function fetchOne(job: LoadJob, idleTimeoutMs: number): Promise<LoadOutcome> {
  return new Promise((resolve) => {
    const started = performance.now();
    let status = 0;
    let headersMs = Number.NaN;
    let firstByteMs = Number.NaN;
    let bytes = 0;
    let settled = false;
    const finish = (failure?: Failure, message?: string) => {
      if (settled) return;
      settled = true;
      resolve({ id: job.id, status, bytes, headersMs, firstByteMs, lastByteMs: performance.now() - started, failure, message });
    };
    const fail = (error: NodeJS.ErrnoException) => {
      const code = error.code ?? '';
      finish(code === 'DF_BENCH_IDLE' ? 'timeout' : RESET_CODES.has(code) || error.message === 'aborted' ? 'reset' : 'other', `${code} ${error.message}`.trim());
    };
    const req = request(job.url, { headers: job.headers, agent: false, timeout: idleTimeoutMs }, (res) => {
      headersMs = performance.now() - started;
      status = res.statusCode ?? 0;
      const ok = status >= 200 && status < 300;
      const hash = createHash('sha256');
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => {
        if (bytes === 0) firstByteMs = performance.now() - started;
        bytes += chunk.byteLength;
        if (ok) hash.update(chunk);
        else if (bytes <= 300) chunks.push(chunk);
      });
      res.once('end', () => {
        if (!ok) return finish('status', Buffer.concat(chunks).toString('utf8').slice(0, 300));
        if (!res.complete) return finish('short', `body ended after ${bytes} bytes`);
        if (bytes !== job.size || `sha256:${hash.digest('hex')}` !== job.digest) return finish('digest', `${bytes} bytes, sha256 does not match ${job.digest}`);
        finish();
      });
      res.once('aborted', () => finish(bytes < job.size ? 'reset' : 'other', `connection closed after ${bytes} bytes`));
      res.once('error', fail);
    });
    req.once('timeout', () => req.destroy(Object.assign(new Error(`idle for ${idleTimeoutMs / 1000}s`), { code: 'DF_BENCH_IDLE' })));
    req.once('error', fail);
    req.end();
  });
}

if (process.send) {
  const loop = monitorEventLoopDelay({ resolution: 1 });
  process.on('message', (message: ToClient) => {
    if (message.type === 'exit') process.exit(0);
    loop.reset();
    loop.enable();
    void Promise.all(message.jobs.map((job) => fetchOne(job, message.idleTimeoutMs))).then((outcomes) => {
      loop.disable();
      const reply: FromClient = { type: 'done', outcomes, loopDelayMs: { p99: loop.percentile(99) / 1e6, max: loop.max / 1e6 } };
      process.send!(reply);
    });
  });
  // The bench going away (crash, SIGKILL) must not leave this process behind.
  process.on('disconnect', () => process.exit(0));
  process.send({ type: 'ready' } satisfies FromClient);
}
