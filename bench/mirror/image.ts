/**
 * The bench's image: N layers of random bytes kept as files (their sha256 computed once, while
 * they are written), a config blob and an OCI image manifest, pushed straight through the
 * registry's HTTP API (distribution spec: POST an upload, PUT it with `?digest=`, PUT the
 * manifest), so no umoci or skopeo is needed.
 */
import { createReadStream } from 'node:fs';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { writeRandomFile } from '../lib/files.ts';
import { send } from './http.ts';

export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
/** An uncompressed layer: its diff id is its own digest. The bytes are random, not a tar: the registry does not look. */
const OCI_LAYER = 'application/vnd.oci.image.layer.v1.tar';
const PUSH_TIMEOUT_MS = 120_000;

export interface Blob {
  readonly digest: string;
  readonly size: number;
  readonly mediaType: string;
  /** The layer's file; undefined for the config blob (kept in memory). */
  readonly path?: string | undefined;
}

export interface BenchImage {
  /** Repository name, e.g. `bench/mirror`. */
  readonly name: string;
  readonly tag: string;
  readonly layers: readonly Blob[];
  readonly config: Blob;
  readonly manifestDigest: string;
  readonly manifestBytes: Buffer;
  /** Layers and config, the blobs a pull fetches. */
  readonly blobs: readonly Blob[];
}

/** Writes one random file per layer size under `dir` and builds the config and manifest. */
export function buildImage(dir: string, layerBytes: readonly number[], signal: AbortSignal): BenchImage & { configBytes: Buffer } {
  const layers = layerBytes.map((size, i): Blob => {
    const path = join(dir, `layer-${i + 1}.bin`);
    const hex = writeRandomFile(path, size, signal);
    return { digest: `sha256:${hex}`, size, mediaType: OCI_LAYER, path };
  });
  const configBytes = Buffer.from(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      config: {},
      rootfs: { type: 'layers', diff_ids: layers.map((layer) => layer.digest) },
    }),
  );
  const config: Blob = { digest: `sha256:${createHash('sha256').update(configBytes).digest('hex')}`, size: configBytes.byteLength, mediaType: OCI_CONFIG };
  const manifestBytes = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: config.mediaType, digest: config.digest, size: config.size },
      layers: layers.map((layer) => ({ mediaType: layer.mediaType, digest: layer.digest, size: layer.size })),
    }),
  );
  return {
    name: 'bench/mirror',
    tag: '1',
    layers,
    config,
    configBytes,
    manifestDigest: `sha256:${createHash('sha256').update(manifestBytes).digest('hex')}`,
    manifestBytes,
    blobs: [...layers, config],
  };
}

/** One monolithic blob upload: POST /blobs/uploads/, then PUT the bytes to its location with `?digest=`. */
async function pushBlob(registry: string, name: string, blob: Blob, body: Buffer | undefined, signal: AbortSignal): Promise<void> {
  const started = await send(`${registry}/v2/${name}/blobs/uploads/`, { method: 'POST', headers: { 'content-length': 0 }, timeoutMs: PUSH_TIMEOUT_MS, signal });
  const location = started.headers.location;
  if (started.status !== 202 || typeof location !== 'string') {
    throw new Error(`registry answered ${started.status} to POST /v2/${name}/blobs/uploads/ (want 202 with a Location): ${started.body.toString('utf8').slice(0, 300)}`);
  }
  const url = new URL(location, registry);
  url.searchParams.set('digest', blob.digest);
  const done = await send(url.href, {
    method: 'PUT',
    headers: { 'content-type': 'application/octet-stream', 'content-length': blob.size },
    body: body ?? createReadStream(blob.path!),
    timeoutMs: PUSH_TIMEOUT_MS,
    signal,
  });
  if (done.status !== 201) throw new Error(`registry answered ${done.status} to the upload PUT of ${blob.digest}: ${done.body.toString('utf8').slice(0, 300)}`);
}

/** Pushes every blob, then the manifest under the image's tag. */
export async function pushImage(registry: string, image: BenchImage & { configBytes: Buffer }, signal: AbortSignal): Promise<void> {
  for (const layer of image.layers) await pushBlob(registry, image.name, layer, undefined, signal);
  await pushBlob(registry, image.name, image.config, image.configBytes, signal);
  const put = await send(`${registry}/v2/${image.name}/manifests/${image.tag}`, {
    method: 'PUT',
    headers: { 'content-type': OCI_MANIFEST, 'content-length': image.manifestBytes.byteLength },
    body: image.manifestBytes,
    timeoutMs: PUSH_TIMEOUT_MS,
    signal,
  });
  if (put.status !== 201) throw new Error(`registry answered ${put.status} to the manifest PUT: ${put.body.toString('utf8').slice(0, 300)}`);
  const digest = put.headers['docker-content-digest'];
  if (digest !== image.manifestDigest) throw new Error(`registry stored the manifest as ${String(digest)}, expected ${image.manifestDigest}`);
}
