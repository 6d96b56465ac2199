/**
 * A parent that serves corrupt pieces, made from a real one: an HTTP proxy in front of a daemon's
 * piece server that passes every answer on with its headers (Content-Length, the piece digest)
 * unchanged and flips one byte in the middle of every 200 body. A daemon whose
 * `storage.server.advertisePort` is this proxy's port sends its children here, so they must catch
 * the corruption by the piece digest.
 *
 * Start it first (its port goes into the daemon's config), then point it at the daemon's piece
 * server once that is up; until then it answers 503.
 */
import { createServer, request, Agent, type IncomingMessage, type ServerResponse } from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import type { TestContext } from 'vitest';

/** Headers that belong to one connection, not to the answer. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding']);

export class CorruptPieceProxy {
  readonly port: number;
  #upstreamPort: number | undefined;
  #corrupted = 0;

  private constructor(port: number) {
    this.port = port;
  }

  /** Listens on 127.0.0.1, port 0; closed when the test ends. */
  static async start(t: TestContext): Promise<CorruptPieceProxy> {
    const agent = new Agent({ keepAlive: true });
    let proxy: CorruptPieceProxy | undefined;
    const server = createServer((req, res) => proxy!.forward(req, res, agent));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    t.onTestFinished(async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      agent.destroy();
      await closed;
    });
    proxy = new CorruptPieceProxy((server.address() as AddressInfo).port);
    return proxy;
  }

  /** The real piece server on 127.0.0.1 that answers behind this proxy. */
  forwardTo(port: number): void {
    this.#upstreamPort = port;
  }

  /** Piece bodies sent with a flipped byte so far. */
  get corrupted(): number {
    return this.#corrupted;
  }

  private forward(req: IncomingMessage, res: ServerResponse, agent: Agent): void {
    if (this.#upstreamPort === undefined) {
      res.writeHead(503).end();
      return;
    }
    const upstream = request({ host: '127.0.0.1', port: this.#upstreamPort, method: req.method, path: req.url, headers: req.headers, agent }, (answer) => {
      const headers: Record<string, string | string[]> = {};
      for (const [name, value] of Object.entries(answer.headers)) if (value !== undefined && !HOP_BY_HOP.has(name)) headers[name] = value;
      res.writeHead(answer.statusCode ?? 502, headers);
      const length = Number(answer.headers['content-length']);
      const flipAt = answer.statusCode === 200 && length > 0 ? Math.floor(length / 2) : -1;
      let seen = 0;
      answer.on('data', (chunk: Buffer) => {
        if (flipAt >= seen && flipAt < seen + chunk.length) {
          chunk = Buffer.from(chunk);
          chunk[flipAt - seen] = chunk[flipAt - seen]! ^ 0xff;
          this.#corrupted++;
        }
        seen += chunk.length;
        if (!res.write(chunk)) {
          answer.pause();
          res.once('drain', () => answer.resume());
        }
      });
      answer.on('end', () => res.end());
      answer.on('error', () => res.destroy());
    });
    upstream.on('error', () => (res.headersSent ? res.destroy() : res.writeHead(502).end()));
    // A child that gives up on a piece must not leave the upstream request running.
    // Only while it runs: a finished request's socket is back in the agent, serving another one.
    res.on('close', () => {
      if (!res.writableFinished) upstream.destroy();
    });
    req.pipe(upstream);
  }
}
