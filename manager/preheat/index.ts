/** Image preheat: resolving an image URL into the layer blobs and headers peers need. */
export { IMAGE_RESOLVE_DEFAULTS, resolveImage, type ImageLayer, type ResolvedImage, type ResolveImageOptions } from './image.ts';
export { parseChallenges, type Challenge } from './auth.ts';
export { MANIFEST_ACCEPT, MEDIA_TYPE } from './manifest.ts';
export { DEFAULT_PLATFORM, parseImageUrl, parsePlatform, type ImageReference, type Platform } from './reference.ts';
export {
  ImageNotFoundError,
  ManifestInvalidError,
  ManifestTooLargeError,
  PlatformNotFoundError,
  PreheatUnauthorizedError,
  RegistryStatusError,
  RegistryTimeoutError,
  RegistryUnreachableError,
  TokenInvalidError,
} from './errors.ts';
