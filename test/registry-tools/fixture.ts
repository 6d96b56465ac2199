/** A small image pushed to a fresh private registry: the starting point of every smoke test here. */
import type { TestContext } from 'vitest';
import { join } from 'node:path';
import {
  buildImage,
  pushImage,
  scratchDir,
  startRegistry,
  type BuiltImage,
  type RegistryCredentials,
  type RunningRegistry,
} from '../support/registry/index.ts';

/** Two layers of random bytes: big enough to be real blobs, small enough to keep the suite fast. */
export const SMALL_LAYERS = [2 << 20, 1 << 20];
export const REPOSITORY = 'e2e/smoke';
export const TAG = '1';

export interface PushedImage {
  readonly dir: string;
  readonly registry: RunningRegistry;
  readonly image: BuiltImage;
  /** `127.0.0.1:PORT/e2e/smoke:1` */
  readonly ref: string;
  /** Every blob a pull must fetch: layers, then the config. */
  readonly blobs: string[];
}

/** A scratch dir, a registry in it (with `auth` when given), and SMALL_LAYERS pushed as REPOSITORY:TAG. */
export async function pushedImage(t: TestContext, auth?: RegistryCredentials): Promise<PushedImage> {
  const dir = await scratchDir(t, 'df-e2e-registry-');
  const registry = await startRegistry(t, { dir: join(dir, 'registry'), auth });
  const image = await buildImage(join(dir, 'image'), { layers: SMALL_LAYERS, tag: TAG });
  const ref = await pushImage(image, registry, `${REPOSITORY}:${TAG}`, auth);
  await registry.settle();
  registry.clearLog();
  return { dir, registry, image, ref, blobs: [...image.layers.map((layer) => layer.digest), image.configDigest] };
}

/** `[digest, count]` pairs sorted by digest, for comparing GET counts in one assertion. */
export function sortedCounts(counts: Map<string, number>): Array<[string, number]> {
  return [...counts].sort(([a], [b]) => a.localeCompare(b));
}

/** Each of `digests` once, in the shape of `sortedCounts`. */
export function onceEach(digests: readonly string[]): Array<[string, number]> {
  return sortedCounts(new Map(digests.map((digest) => [digest, 1])));
}
