/**
 * Image manifests and indexes (OCI image spec, Docker schema 2): which media types we ask for,
 * how a body is validated into layers or platform entries, and how an index entry is chosen.
 */
import { ManifestInvalidError, PlatformNotFoundError } from './errors.ts';
import { formatPlatform, SHA256_DIGEST, type Platform } from './reference.ts';

export const MEDIA_TYPE = Object.freeze({
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
});

/** Sent on every manifest request: without it registries may convert or answer schema 1. */
export const MANIFEST_ACCEPT = [MEDIA_TYPE.ociIndex, MEDIA_TYPE.dockerList, MEDIA_TYPE.ociManifest, MEDIA_TYPE.dockerManifest].join(', ');

const INDEX_TYPES = new Set<string>([MEDIA_TYPE.ociIndex, MEDIA_TYPE.dockerList]);
const MANIFEST_TYPES = new Set<string>([MEDIA_TYPE.ociManifest, MEDIA_TYPE.dockerManifest]);

export interface Descriptor {
  readonly mediaType: string;
  readonly digest: string;
  readonly size: number;
}

export interface IndexEntry extends Descriptor {
  readonly platform: Platform | undefined;
}

export type ParsedManifest =
  | { readonly kind: 'index'; readonly mediaType: string; readonly manifests: readonly IndexEntry[] }
  | { readonly kind: 'manifest'; readonly mediaType: string; readonly layers: readonly Descriptor[] };

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function descriptor(value: unknown, where: string): Descriptor {
  if (!isObject(value)) throw new ManifestInvalidError(`${where} is not an object`);
  const { digest, size, mediaType } = value;
  if (typeof digest !== 'string' || !SHA256_DIGEST.test(digest)) {
    throw new ManifestInvalidError(`${where} has digest ${JSON.stringify(digest)}, not sha256:<64 lower-case hex>`);
  }
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) {
    throw new ManifestInvalidError(`${where} has size ${JSON.stringify(size)}, not a non-negative integer`);
  }
  if (typeof mediaType !== 'string' || mediaType.length === 0) throw new ManifestInvalidError(`${where} has no mediaType`);
  return { mediaType, digest, size };
}

function platformOf(value: unknown, where: string): Platform | undefined {
  if (value === undefined) return undefined;
  if (!isObject(value) || typeof value.os !== 'string' || typeof value.architecture !== 'string') {
    throw new ManifestInvalidError(`${where}.platform needs string os and architecture`);
  }
  const variant = typeof value.variant === 'string' && value.variant !== '' ? value.variant : undefined;
  return { os: value.os, architecture: value.architecture, variant };
}

/**
 * Validates a manifest body. The type comes from the body's `mediaType` (it is part of the
 * digested bytes), else the Content-Type, else the shape: the OCI spec lets `mediaType` be absent.
 */
export function parseManifest(body: Buffer, contentType: string | undefined, what: string): ParsedManifest {
  let json: unknown;
  try {
    json = JSON.parse(body.toString('utf8'));
  } catch (error) {
    throw new ManifestInvalidError(`${what} is not JSON`, { cause: error });
  }
  if (!isObject(json)) throw new ManifestInvalidError(`${what} is not a JSON object`);
  if (json.schemaVersion !== 2) {
    throw new ManifestInvalidError(`${what} has schemaVersion ${JSON.stringify(json.schemaVersion)}; only schema 2 and OCI manifests are supported`);
  }
  const header = contentType?.split(';')[0]!.trim().toLowerCase();
  let mediaType = typeof json.mediaType === 'string' ? json.mediaType : header;
  if (!mediaType || (!INDEX_TYPES.has(mediaType) && !MANIFEST_TYPES.has(mediaType))) {
    if (Array.isArray(json.manifests)) mediaType = MEDIA_TYPE.ociIndex;
    else if (Array.isArray(json.layers)) mediaType = MEDIA_TYPE.ociManifest;
    else throw new ManifestInvalidError(`${what} has media type ${JSON.stringify(mediaType)}, neither an image manifest nor an index`);
  }
  if (INDEX_TYPES.has(mediaType)) {
    if (!Array.isArray(json.manifests)) throw new ManifestInvalidError(`${what} is an index without a manifests array`);
    const manifests = json.manifests.map((entry: unknown, i: number) => {
      const where = `${what} manifests[${i}]`;
      return { ...descriptor(entry, where), platform: platformOf(isObject(entry) ? entry.platform : undefined, where) };
    });
    return { kind: 'index', mediaType, manifests };
  }
  if (!Array.isArray(json.layers)) throw new ManifestInvalidError(`${what} is an image manifest without a layers array`);
  // Layers only, as Dragonfly preheats: the config blob is a few KiB the runtime fetches itself.
  const layers = json.layers.map((layer: unknown, i: number) => descriptor(layer, `${what} layers[${i}]`));
  return { kind: 'manifest', mediaType, layers };
}

/**
 * The variant an architecture implies when none is written, as containerd normalises platforms:
 * `linux/arm64` and `linux/arm64/v8` are the same machine.
 */
const DEFAULT_VARIANT: Readonly<Record<string, string>> = { arm64: 'v8', arm: 'v7' };

function variantOf(platform: Platform): string | undefined {
  return platform.variant ?? DEFAULT_VARIANT[platform.architecture];
}

/**
 * The entry of an index for `wanted`: same os and architecture, and the same variant when one is
 * asked for (else the first entry of that os and architecture). None fails naming what exists.
 */
export function selectPlatform(entries: readonly IndexEntry[], wanted: Platform, what: string): IndexEntry {
  const candidates = entries.filter((e) => e.platform?.os === wanted.os && e.platform.architecture === wanted.architecture);
  const chosen = wanted.variant === undefined ? candidates[0] : candidates.find((e) => variantOf(e.platform!) === variantOf(wanted));
  if (chosen) return chosen;
  const available = [...new Set(entries.flatMap((e) => (e.platform ? [formatPlatform(e.platform)] : [])))];
  throw new PlatformNotFoundError(
    `${what} has no manifest for platform ${formatPlatform(wanted)}; available: ${available.join(', ') || 'none'}`,
    available,
  );
}

export function isManifestType(mediaType: string): boolean {
  return MANIFEST_TYPES.has(mediaType);
}
