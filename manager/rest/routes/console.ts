/**
 * The console: the web UI's built files (manager/console/dist, made by `npm install` or
 * `npm run build:console`) at `/`. Any other path outside /api and /oapi answers index.html, so a
 * reload or a shared link on a client route (`/tasks/<id>`) opens that page. Files are read on
 * each request: they are small, and a rebuild shows without a restart.
 */
import { readFile } from 'node:fs/promises';
import { extname, join } from 'node:path';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

export const CONSOLE_DIST_DIR = join(import.meta.dirname, '..', '..', 'console', 'dist');

const TYPES: Readonly<Record<string, string>> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
};
const ASSET_NAME = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9]+)+$/;
// The app loads only its own files and talks only to this origin; Preact sets styles through the
// CSSOM, which style-src does not govern, so no inline styles need allowing.
const CSP = "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'";
const API_PREFIXES = ['/api/', '/oapi/'];
const TAGS = ['console'];

async function readOrUndefined(path: string): Promise<Buffer | undefined> {
  try {
    return await readFile(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/** The console's routes serving `dist` (the built files). */
export function consoleRoutesFrom(dist: string): (app: FastifyInstance) => void {
  return (app) => serveConsole(app, dist);
}

/** The console's routes over manager/console/dist. */
export const consoleRoutes = consoleRoutesFrom(CONSOLE_DIST_DIR);

function serveConsole(app: FastifyInstance, dist: string): void {
  const page = async (request: FastifyRequest, reply: FastifyReply) => {
    const path = request.url.split('?')[0]!;
    if (API_PREFIXES.some((prefix) => path.startsWith(prefix))) return reply.callNotFound();
    const html = await readOrUndefined(join(dist, 'index.html'));
    if (html === undefined) {
      return reply.status(503).type('text/plain; charset=utf-8').send('The console is not built: run `npm run build:console` (npm install does it), then reload.\n');
    }
    return reply.type('text/html; charset=utf-8').header('cache-control', 'no-cache').header('content-security-policy', CSP).header('x-content-type-options', 'nosniff').send(html);
  };

  app.get<{ Params: { name: string } }>('/assets/:name', { schema: { tags: TAGS, summary: 'a file of the console' } }, async (request, reply) => {
    const { name } = request.params;
    const type = TYPES[extname(name)];
    const body = ASSET_NAME.test(name) && type ? await readOrUndefined(join(dist, 'assets', name)) : undefined;
    if (body === undefined) return reply.callNotFound();
    return reply.type(type!).header('cache-control', 'no-cache').header('x-content-type-options', 'nosniff').send(body);
  });
  app.get('/', { schema: { tags: TAGS, summary: 'the console (web UI)' } }, page);
  app.get('/*', { schema: { tags: TAGS, summary: 'the console on a client route' } }, page);
}
