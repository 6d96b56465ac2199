import { createFallbackAddon } from './fallback.ts';
import { createNativeAddon, loadBinding } from './native.ts';
import type { Addon } from './types.ts';

export type { Addon, HashAlgorithm, Hasher, OnWritten, Received } from './types.ts';
export { ADDON_DEFAULTS } from './types.ts';
export { AddonError, type AddonErrorCode } from './errors.ts';

export interface LoadAddonOptions {
  /** Return the pure JS implementation even when the native addon is built. */
  forceFallback?: boolean;
}

let fallbackAddon: Addon | undefined;
// undefined: not tried yet; null: tried and failed (reason in loadError).
let nativeAddon: Addon | null | undefined;
let loadError: Error | undefined;

function disabledByEnv(): boolean {
  return process.env['DF_NO_ADDON'] === '1';
}

/**
 * The native addon when it is built and not disabled by DF_NO_ADDON=1, else the fallback. Both are
 * created once per thread; tests and benchmarks ask for each to compare them in one process.
 */
export function loadAddon(options: LoadAddonOptions = {}): Addon {
  const fallback = (fallbackAddon ??= createFallbackAddon());
  if (options.forceFallback === true || disabledByEnv()) return fallback;
  if (nativeAddon === undefined) {
    try {
      nativeAddon = createNativeAddon(loadBinding(), fallback);
    } catch (err) {
      nativeAddon = null;
      loadError = err instanceof Error ? err : new Error(String(err));
    }
  }
  return nativeAddon ?? fallback;
}

/** Why loadAddon() returns the fallback, or undefined when the native addon is in use. */
export function nativeLoadError(): Error | undefined {
  if (disabledByEnv()) return new Error('native addon disabled by DF_NO_ADDON=1');
  loadAddon();
  return nativeAddon ? undefined : loadError;
}

export const addon: Addon = loadAddon();
