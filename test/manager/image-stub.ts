/**
 * A small real HTTP server on 127.0.0.1 port 0 standing in for a registry where docker-registry
 * cannot go: token auth, broken answers, stalls. Each test gives the handler; every request is
 * logged; the server and its connections close when the test ends.
 */
import { createHash } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TestContext } from 'vitest';
import { MEDIA_TYPE } from '../../manager/index.ts';

export interface StubRequest {
  readonly method: string;
  /** Path and query. */
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
}

export interface Stub {
  /** `http://127.0.0.1:PORT` */
  readonly url: string;
  /** `127.0.0.1:PORT` */
  readonly host: string;
  readonly requests: StubRequest[];
}

export type StubHandler = (req: IncomingMessage, res: ServerResponse, url: URL) => void;

export async function startStub(t: TestContext, handler: StubHandler): Promise<Stub> {
  const requests: StubRequest[] = [];
  const server = createServer((req, res) => {
    requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
    handler(req, res, new URL(req.url ?? '/', 'http://stub'));
  });
  // Bounds a test that forgets to answer: no request lives longer than this.
  server.requestTimeout = 20_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.onTestFinished(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, host: `127.0.0.1:${port}`, requests };
}

export function sha256(body: string | Buffer): string {
  return `sha256:${createHash('sha256').update(body).digest('hex')}`;
}

/** An OCI image manifest (as bytes) with layers of made-up content, and its layer descriptors. */
export function ociManifest(layerNames: readonly string[]): { body: Buffer; layers: Array<{ digest: string; size: number; mediaType: string }> } {
  const layers = layerNames.map((name, i) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: sha256(name), size: 1000 + i }));
  const manifest = {
    schemaVersion: 2,
    mediaType: MEDIA_TYPE.ociManifest,
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(`config of ${layerNames.join()}`), size: 123 },
    layers,
  };
  return { body: Buffer.from(JSON.stringify(manifest)), layers };
}

/** Answers a manifest body with its content type and digest, as a registry does. */
export function sendManifest(res: ServerResponse, body: Buffer, mediaType: string = MEDIA_TYPE.ociManifest): void {
  res.writeHead(200, { 'content-type': mediaType, 'content-length': body.length, 'docker-content-digest': sha256(body) });
  res.end(body);
}

/** The distribution spec's error JSON with a status. */
export function sendError(res: ServerResponse, status: number, code: string, headers: Record<string, string> = {}): void {
  const body = JSON.stringify({ errors: [{ code, message: code.toLowerCase() }] });
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(body);
}
