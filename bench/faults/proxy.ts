/**
 * A fault in front of a real server, as a process of its own inside a simulated host:
 * `node proxy.ts --listen IP:PORT --upstream IP:PORT --fault corrupt|5xx|reset|stall [--on]`.
 * Every request is forwarded with its headers; while the fault is on (SIGUSR1 turns it on,
 * SIGUSR2 off, by PID) the answers are broken:
 *
 * - `corrupt`: every 200 body goes on with one byte flipped in its middle, headers (Content-Length,
 *   the piece digest) unchanged: a parent that sends wrong bytes (as test/support/corrupt-piece-proxy.ts).
 * - `5xx`: new requests get 503.
 * - `reset`: new requests and the answers under way are reset (TCP RST).
 * - `stall`: new requests get no answer and the answers under way stop moving, sockets kept open,
 *   until the fault is off; then they go on where they stopped.
 *
 * It logs JSON lines on stderr (what the harness's ServerProcess reads): `fault proxy listening`,
 * `fault on` / `fault off`, and one `fault` line per request it broke.
 */
import { Agent, createServer, request, type IncomingMessage, type ServerResponse } from 'node:http';
import { parseArgs } from 'node:util';

export const PROXY_FAULTS = ['corrupt', '5xx', 'reset', 'stall'] as const;
export type ProxyFault = (typeof PROXY_FAULTS)[number];

/** Headers that belong to one connection, not to the answer. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding']);

function log(msg: string, fields: Record<string, unknown> = {}): void {
  process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), level: 'info', msg, ...fields })}\n`);
}

function hostPort(text: string): { host: string; port: number } {
  const at = text.lastIndexOf(':');
  const port = Number(text.slice(at + 1));
  if (at <= 0 || !Number.isInteger(port) || port <= 0 || port > 65535) throw new Error(`expected IP:PORT, got ${text}`);
  return { host: text.slice(0, at), port };
}

function main(): void {
  const { values } = parseArgs({ options: { listen: { type: 'string' }, upstream: { type: 'string' }, fault: { type: 'string' }, on: { type: 'boolean', default: false } } });
  const fault = values.fault as ProxyFault;
  if (!PROXY_FAULTS.includes(fault)) throw new Error(`--fault must be one of ${PROXY_FAULTS.join(', ')}`);
  const listen = hostPort(String(values.listen));
  const upstream = hostPort(String(values.upstream));
  const agent = new Agent({ keepAlive: true });
  let on = values.on === true;
  let broken = 0;
  /** Answers under way: reset or paused when the fault comes on. */
  const active = new Set<{ res: ServerResponse; answer: IncomingMessage }>();
  /** Requests held while stalled: forwarded when the fault goes off. */
  const held: Array<() => void> = [];

  const breakOne = (what: string, req: IncomingMessage) => {
    broken++;
    log('fault', { fault, what, path: req.url?.slice(0, 120), broken });
  };

  const forward = (req: IncomingMessage, res: ServerResponse) => {
    const up = request({ host: upstream.host, port: upstream.port, method: req.method, path: req.url, headers: req.headers, agent }, (answer) => {
      const headers: Record<string, string | string[]> = {};
      for (const [name, value] of Object.entries(answer.headers)) if (value !== undefined && !HOP_BY_HOP.has(name)) headers[name] = value;
      res.writeHead(answer.statusCode ?? 502, headers);
      const length = Number(answer.headers['content-length']);
      const flipAt = fault === 'corrupt' && on && answer.statusCode === 200 && length > 0 ? Math.floor(length / 2) : -1;
      if (flipAt >= 0) breakOne('flipped a byte', req);
      const entry = { res, answer };
      active.add(entry);
      let seen = 0;
      answer.on('data', (chunk: Buffer) => {
        if (flipAt >= seen && flipAt < seen + chunk.length) {
          chunk = Buffer.from(chunk);
          chunk[flipAt - seen] = chunk[flipAt - seen]! ^ 0xff;
        }
        seen += chunk.length;
        if (!res.write(chunk)) {
          answer.pause();
          res.once('drain', () => {
            if (!(on && fault === 'stall')) answer.resume();
          });
        }
      });
      answer.on('end', () => {
        active.delete(entry);
        res.end();
      });
      answer.on('error', () => {
        active.delete(entry);
        res.destroy();
      });
    });
    up.on('error', () => (res.headersSent ? res.destroy() : res.writeHead(502).end()));
    // A client that gives up must not leave the upstream request running (only while it runs: a
    // finished request's socket is back in the agent, serving another one).
    res.on('close', () => {
      if (!res.writableFinished) up.destroy();
    });
    req.pipe(up);
  };

  const server = createServer((req, res) => {
    if (on && fault === '5xx') {
      breakOne('answered 503', req);
      res.writeHead(503, { 'content-type': 'text/plain' }).end('fault injected by the bench\n');
      return;
    }
    if (on && fault === 'reset') {
      breakOne('reset the request', req);
      req.socket.resetAndDestroy();
      return;
    }
    if (on && fault === 'stall') {
      breakOne('held the request', req);
      held.push(() => forward(req, res));
      return;
    }
    forward(req, res);
  });
  server.keepAliveTimeout = 60_000;

  process.on('SIGUSR1', () => {
    on = true;
    log('fault on', { fault, active: active.size });
    for (const entry of active) {
      if (fault === 'reset') {
        entry.answer.destroy();
        entry.res.socket?.resetAndDestroy();
      } else if (fault === 'stall') {
        entry.answer.pause();
      }
    }
  });
  process.on('SIGUSR2', () => {
    on = false;
    log('fault off', { fault, held: held.length, broken });
    for (const entry of active) entry.answer.resume();
    for (const release of held.splice(0)) release();
  });
  process.on('SIGTERM', () => {
    log('fault proxy stopping', { broken });
    server.closeAllConnections();
    server.close(() => process.exit(0));
  });
  server.listen(listen.port, listen.host, () => log('fault proxy listening', { listen: values.listen, upstream: values.upstream, fault, on }));
}

if (import.meta.main) main();
