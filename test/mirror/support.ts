/**
 * For the registry mirror's end-to-end tests: a real registry with a real image in it, a cluster
 * of real daemons, and a plain HTTP client that talks to the mirror the way runtimes do.
 */
import { createHash } from 'node:crypto';
import { createServer, request as httpRequest, type IncomingHttpHeaders, type Server } from 'node:http';
import { join } from 'node:path';
import type { TestContext } from 'vitest';
import { request } from 'undici';
import { buildImage, pushImage, requireTools, startRegistry, TOOL, type BuiltImage, type RegistryCredentials, type RunningRegistry } from '../support/registry/index.ts';

export const MANIFEST_ACCEPT = [
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
].join(', ');

export function sha256Hex(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

export interface Answer {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
}

/** One request with the path sent exactly as given (no normalization), on a fresh connection. */
export function send(port: number, path: string, options: { method?: string; headers?: Record<string, string> } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, method: options.method ?? 'GET', headers: options.headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.setTimeout(60_000, () => req.destroy(new Error(`no answer to ${path} within 60 s`)));
    req.on('error', reject);
    req.end();
  });
}

export function basic(credentials: RegistryCredentials): string {
  return `Basic ${Buffer.from(`${credentials.user}:${credentials.password}`).toString('base64')}`;
}

export interface RegistryWithImage {
  readonly registry: RunningRegistry;
  readonly image: BuiltImage;
  /** `test/img` */
  readonly name: string;
}

/** Skips (or fails under DF_E2E_REQUIRED=1) when the registry tools are missing. */
export function haveRegistryTools(t: TestContext): boolean {
  return requireTools(t, [TOOL.registry, TOOL.umoci, TOOL.skopeo]);
}

/** A registry on loopback with a two-layer image (both layers several pieces long) at `test/img:1`. */
export async function registryWithImage(t: TestContext, dir: string, options: { auth?: RegistryCredentials; layers?: number[] } = {}): Promise<RegistryWithImage> {
  const registry = await startRegistry(t, { dir: join(dir, 'registry'), auth: options.auth });
  const image = await buildImage(join(dir, 'image'), { layers: options.layers ?? [9 * 1024 * 1024 + 17, 5 * 1024 * 1024] });
  await pushImage(image, registry, 'test/img:1', options.auth);
  return { registry, image, name: 'test/img' };
}

/** What a registry front answers itself: a status (with an OCI error body), or a redirect. */
export type FrontAnswer = number | { readonly redirect: string };

/**
 * A registry front: requests `intercept` answers (a status, or a 307 to elsewhere) never reach
 * `target`; everything else is relayed to it.
 */
export async function failingFront(target: string, intercept: (method: string, url: string, range: string | undefined) => FrontAnswer | undefined): Promise<Server> {
  const server = createServer((req, res) => {
    const answer = intercept(req.method ?? 'GET', req.url ?? '', req.headers.range);
    if (typeof answer === 'object') {
      res.writeHead(307, { location: answer.redirect, 'docker-distribution-api-version': 'registry/2.0', 'content-length': 0 });
      res.end();
      return;
    }
    if (answer !== undefined) {
      res.writeHead(answer, { 'content-type': 'application/json', 'docker-distribution-api-version': 'registry/2.0' });
      res.end('{"errors":[{"code":"UNAVAILABLE","message":"storage is down"}]}');
      return;
    }
    const { host: _host, ...headers } = req.headers;
    request(`${target}${req.url}`, { method: req.method as 'GET', headers: headers as Record<string, string> }).then(
      async (upstream) => {
        res.writeHead(upstream.statusCode, upstream.headers as Record<string, string>);
        for await (const chunk of upstream.body) res.write(chunk);
        res.end();
      },
      (error: unknown) => res.destroy(error as Error),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}
