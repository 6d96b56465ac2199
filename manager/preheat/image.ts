/**
 * Resolves a preheat image URL into the layer blobs a seed peer should download, plus the
 * headers a peer must send to fetch them (the Authorization the registry accepted). This is the
 * image half of Dragonfly's image preheat: manifest (or index, by platform) -> layer blob URLs.
 */
import { createHash } from 'node:crypto';
import { InvalidArgumentError } from '../../api/index.ts';
import { basicAuthorization, fetchBearerToken, parseChallenges, type Credentials } from './auth.ts';
import { ImageNotFoundError, ManifestInvalidError, PreheatUnauthorizedError, RegistryStatusError } from './errors.ts';
import { boundedGet, headerValue, headerValues, registryErrorCodes, type BoundedResponse } from './http.ts';
import { isManifestType, MANIFEST_ACCEPT, parseManifest, selectPlatform, type ParsedManifest } from './manifest.ts';
import { DEFAULT_PLATFORM, formatPlatform, parseImageUrl, parsePlatform, registryUrl, SHA256_DIGEST, type ImageReference } from './reference.ts';

export const IMAGE_RESOLVE_DEFAULTS = Object.freeze({
  platform: DEFAULT_PLATFORM,
  /** Bounds the whole resolution (token, index, manifest) when the caller's signal does not. */
  timeoutMs: 60_000,
  /** Real manifests are a few KiB; an index of hundreds of platforms stays far below this. */
  maxManifestBytes: 4 * 1024 * 1024,
});

export interface ResolveImageOptions {
  /** `http(s)://<registry>/v2/<repository>/manifests/<tag-or-digest>` */
  readonly url: string;
  readonly username?: string | undefined;
  readonly password?: string | undefined;
  /** Sent on every registry request and handed on to the peers. */
  readonly headers?: Readonly<Record<string, string>> | undefined;
  /** `os/arch[/variant]`; default `linux/amd64`. Used only when the URL names an index. */
  readonly platform?: string | undefined;
  readonly signal?: AbortSignal | undefined;
  readonly timeoutMs?: number | undefined;
  readonly maxManifestBytes?: number | undefined;
}

export interface ImageLayer {
  /** `http(s)://<registry>/v2/<repository>/blobs/<digest>` */
  readonly url: string;
  readonly digest: string;
  readonly size: number;
  readonly mediaType: string;
}

export interface ResolvedImage {
  /** The digest of the image manifest whose layers these are (the platform's, under an index). */
  readonly manifestDigest: string;
  /** The index's digest when the URL named an index or manifest list. */
  readonly indexDigest?: string | undefined;
  /** Bottom layer first, as in the manifest. */
  readonly layers: readonly ImageLayer[];
  /** Lower-case names: the caller's headers plus the `authorization` the registry accepted. */
  readonly headers: Readonly<Record<string, string>>;
}

interface Fetched {
  readonly digest: string;
  readonly manifest: ParsedManifest;
}

function sha256(body: Buffer): string {
  return `sha256:${createHash('sha256').update(body).digest('hex')}`;
}

function normaliseHeaders(headers: Readonly<Record<string, string>> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers ?? {})) {
    if (typeof value !== 'string' || /[\r\n]/.test(value)) throw new InvalidArgumentError(`header ${name} must be a one-line string`);
    out[name.toLowerCase()] = value;
  }
  return out;
}

function credentialsOf(options: ResolveImageOptions): Credentials | undefined {
  const { username, password } = options;
  if (!username) {
    if (password) throw new InvalidArgumentError('a password was given without a username');
    return undefined;
  }
  if (username.includes(':')) throw new InvalidArgumentError('username must not contain ":" (basic auth joins it to the password with one)');
  return { username, password: password ?? '' };
}

/**
 * One image's requests: remembers the Authorization that worked so the second manifest (under
 * an index) needs no new challenge, and answers each 401 challenge once.
 */
class RegistrySession {
  private authorization: string | undefined;
  private readonly image: ImageReference;
  private readonly credentials: Credentials | undefined;
  private readonly extraHeaders: Record<string, string>;
  private readonly signal: AbortSignal;
  private readonly maxBytes: number;

  constructor(image: ImageReference, credentials: Credentials | undefined, extraHeaders: Record<string, string>, signal: AbortSignal, maxBytes: number) {
    this.image = image;
    this.credentials = credentials;
    this.extraHeaders = extraHeaders;
    this.signal = signal;
    this.maxBytes = maxBytes;
    // A caller-given Authorization is tried first; a 401 still gets its one challenge answer.
    this.authorization = extraHeaders.authorization;
  }

  /** What a peer sends with each blob GET. */
  peerHeaders(): Record<string, string> {
    return { ...this.extraHeaders, ...(this.authorization ? { authorization: this.authorization } : {}) };
  }

  /** Fetches and validates the manifest at `reference` (a tag or digest); `expected` is the index's descriptor. */
  async manifest(reference: string, expected?: { digest: string; size: number }): Promise<Fetched> {
    const { registry, repository } = this.image;
    const name = SHA256_DIGEST.test(reference) ? `${repository}@${reference}` : `${repository}:${reference}`;
    const what = `manifest ${name} from registry ${registry}`;
    const url = registryUrl(this.image, 'manifests', reference);
    let response = await this.get(url, what);
    if (response.status === 401) {
      this.authorization = await this.answer(headerValues(response.headers, 'www-authenticate').join(', '), what);
      response = await this.get(url, what);
    }
    const codes = registryErrorCodes(response.body);
    if (response.status === 401 || response.status === 403) {
      const how = this.authorization ? 'with the credentials given' : 'anonymously';
      throw new PreheatUnauthorizedError(`registry ${registry} refused ${what} ${how}: ${response.status}${codes}`, response.status);
    }
    if (response.status === 404) throw new ImageNotFoundError(`registry ${registry} has no ${name}: 404${codes}`);
    if (response.status !== 200) throw new RegistryStatusError(`registry ${registry} answered ${response.status} for ${what}${codes}`, response.status);

    const digest = sha256(response.body);
    // The registry's digest is of these exact bytes; a different one means they were altered on the way.
    const announced = headerValue(response.headers, 'docker-content-digest');
    if (announced?.startsWith('sha256:') && announced !== digest) {
      throw new ManifestInvalidError(`${what} hashes to ${digest} but the registry announced ${announced}`);
    }
    const wanted = expected?.digest ?? (SHA256_DIGEST.test(reference) ? reference : undefined);
    if (wanted !== undefined && wanted !== digest) throw new ManifestInvalidError(`${what} hashes to ${digest}, not the ${wanted} asked for`);
    if (expected && expected.size !== response.body.length) {
      throw new ManifestInvalidError(`${what} is ${response.body.length} bytes, the index says ${expected.size}`);
    }
    return { digest, manifest: parseManifest(response.body, headerValue(response.headers, 'content-type'), what) };
  }

  private get(url: string, what: string): Promise<BoundedResponse> {
    const headers: Record<string, string> = { ...this.extraHeaders, accept: MANIFEST_ACCEPT };
    delete headers.authorization;
    if (this.authorization) headers.authorization = this.authorization;
    return boundedGet(url, { headers, maxBytes: this.maxBytes, signal: this.signal, what });
  }

  /** The Authorization answering a 401's challenges: Bearer when offered (it works anonymously), else Basic. */
  private async answer(header: string, what: string): Promise<string> {
    const challenges = parseChallenges(header);
    const bearer = challenges.find((c) => c.scheme === 'bearer');
    if (bearer) {
      return fetchBearerToken({
        challenge: bearer,
        repository: this.image.repository,
        credentials: this.credentials,
        extraHeaders: this.extraHeaders,
        signal: this.signal,
      });
    }
    const why = !challenges.some((c) => c.scheme === 'basic')
      ? `with no Basic or Bearer challenge (${challenges.map((c) => c.scheme).join(', ') || 'none'})`
      : this.credentials
        ? undefined
        : 'and no credentials were given';
    if (why) throw new PreheatUnauthorizedError(`registry ${this.image.registry} refused ${what}: 401 ${why}`, 401);
    return basicAuthorization(this.credentials!);
  }
}

/**
 * Resolves `options.url` into its layers. An index or manifest list is narrowed to the manifest of
 * `options.platform`; a single manifest is taken as is (its platform is in the config blob, which
 * Dragonfly does not check either).
 */
export async function resolveImage(options: ResolveImageOptions): Promise<ResolvedImage> {
  const image = parseImageUrl(options.url);
  const platform = parsePlatform(options.platform ?? IMAGE_RESOLVE_DEFAULTS.platform);
  const credentials = credentialsOf(options);
  const headers = normaliseHeaders(options.headers);
  const timeoutMs = options.timeoutMs ?? IMAGE_RESOLVE_DEFAULTS.timeoutMs;
  const maxBytes = options.maxManifestBytes ?? IMAGE_RESOLVE_DEFAULTS.maxManifestBytes;
  if (!Number.isSafeInteger(timeoutMs) || timeoutMs <= 0) throw new InvalidArgumentError(`timeoutMs must be a positive integer, got ${timeoutMs}`);
  if (!Number.isSafeInteger(maxBytes) || maxBytes <= 0) throw new InvalidArgumentError(`maxManifestBytes must be a positive integer, got ${maxBytes}`);
  const timeout = AbortSignal.timeout(timeoutMs);
  const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;

  const session = new RegistrySession(image, credentials, headers, signal, maxBytes);
  const top = await session.manifest(image.reference);
  let chosen = top;
  let indexDigest: string | undefined;
  if (top.manifest.kind === 'index') {
    const entry = selectPlatform(top.manifest.manifests, platform, `index ${image.repository}@${top.digest}`);
    if (!isManifestType(entry.mediaType)) {
      throw new ManifestInvalidError(`index ${image.repository}@${top.digest} maps ${formatPlatform(platform)} to a ${entry.mediaType}, not an image manifest`);
    }
    chosen = await session.manifest(entry.digest, entry);
    indexDigest = top.digest;
  }
  if (chosen.manifest.kind !== 'manifest') {
    throw new ManifestInvalidError(`manifest ${image.repository}@${chosen.digest} is an index inside an index`);
  }
  return {
    manifestDigest: chosen.digest,
    indexDigest,
    layers: chosen.manifest.layers.map((layer) => ({ ...layer, url: registryUrl(image, 'blobs', layer.digest) })),
    headers: session.peerHeaders(),
  };
}
