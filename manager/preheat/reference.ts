/**
 * The inputs of an image preheat, checked before any request: Dragonfly's image URL form
 * `http(s)://<registry>/v2/<repository>/manifests/<tag-or-digest>` and a platform `os/arch[/variant]`.
 */
import { InvalidArgumentError } from '../../api/index.ts';

export interface ImageReference {
  /** `https:` or `http:` */
  readonly protocol: string;
  /** `host[:port]`, as in the URL. */
  readonly registry: string;
  readonly repository: string;
  /** A tag or a `sha256:` digest. */
  readonly reference: string;
}

export interface Platform {
  readonly os: string;
  readonly architecture: string;
  readonly variant?: string | undefined;
}

/** The only digest form we accept anywhere: what registries and Dragonfly's task ids use. */
export const SHA256_DIGEST = /^sha256:[0-9a-f]{64}$/;
/** The distribution spec's repository name grammar (lower-case components joined by `/`). */
const REPOSITORY = /^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*$/;
const TAG = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/;
const PLATFORM_PART = /^[A-Za-z0-9._-]+$/;

export const DEFAULT_PLATFORM = 'linux/amd64';

/** Parses and checks the image URL; errors never echo user info, which may hold a password. */
export function parseImageUrl(text: string): ImageReference {
  let url: URL;
  try {
    url = new URL(text);
  } catch (error) {
    throw new InvalidArgumentError('image url is not a URL: expected https://<registry>/v2/<repository>/manifests/<tag-or-digest>', { cause: error });
  }
  if (url.username || url.password) {
    throw new InvalidArgumentError('image url must not carry credentials: pass username and password instead');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new InvalidArgumentError(`image url must be http or https, got ${url.protocol}`);
  }
  if (url.search || url.hash) throw new InvalidArgumentError(`image url ${url.origin}${url.pathname} must have no query or fragment`);
  const match = /^\/v2\/(.+)\/manifests\/([^/]+)$/.exec(url.pathname);
  if (!match) {
    throw new InvalidArgumentError(`image url path ${url.pathname} must be /v2/<repository>/manifests/<tag-or-digest>`);
  }
  const [, repository, reference] = match as unknown as [string, string, string];
  if (!REPOSITORY.test(repository)) throw new InvalidArgumentError(`image repository "${repository}" is not a valid repository name`);
  if (!TAG.test(reference) && !SHA256_DIGEST.test(reference)) {
    throw new InvalidArgumentError(`image reference "${reference}" is neither a tag nor a sha256:<64 hex> digest`);
  }
  return { protocol: url.protocol, registry: url.host, repository, reference };
}

export function parsePlatform(text: string): Platform {
  const parts = text.split('/');
  if (parts.length < 2 || parts.length > 3 || !parts.every((part) => PLATFORM_PART.test(part))) {
    throw new InvalidArgumentError(`platform "${text}" must look like os/arch or os/arch/variant, e.g. ${DEFAULT_PLATFORM}`);
  }
  const [os, architecture, variant] = parts as [string, string, string | undefined];
  return { os, architecture, variant };
}

export function formatPlatform(platform: Platform): string {
  return [platform.os, platform.architecture, platform.variant].filter(Boolean).join('/');
}

/** `<protocol>//<registry>/v2/<repository>/<kind>/<reference>` */
export function registryUrl(image: ImageReference, kind: 'manifests' | 'blobs', reference: string): string {
  return `${image.protocol}//${image.registry}/v2/${image.repository}/${kind}/${reference}`;
}
