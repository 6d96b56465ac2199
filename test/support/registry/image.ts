/**
 * OCI images built offline with umoci (random-content layers of chosen sizes) and pushed to a
 * registry with skopeo. Layer digests are read back from the layout, so tests know exactly
 * which blobs a pull must fetch.
 */
import { mkdir, readFile, rm } from 'node:fs/promises';
import { isAbsolute, join } from 'node:path';
import { check, ToolError } from './errors.ts';
import { mustSucceed, runCommand, type CommandResult } from './exec.ts';
import type { RegistryCredentials } from './registry.ts';
import { prepareHome, runContained } from './sandbox.ts';
import { writeRandomTar } from './tar.ts';
import { TOOL } from './tools.ts';

export interface BlobRef {
  readonly digest: string;
  /** The blob's size in bytes (for a layer: the gzip-compressed tar, slightly above the content). */
  readonly size: number;
}

export interface BuiltImage {
  /** `oci:DIR:TAG`, a skopeo source reference. */
  readonly layout: string;
  /** The OCI layout's directory. */
  readonly layoutDir: string;
  readonly tag: string;
  /** Bottom layer first, as in the manifest. */
  readonly layers: readonly BlobRef[];
  readonly configDigest: string;
  readonly manifestDigest: string;
  readonly manifestSize: number;
}

export interface BuildOptions {
  /** Content bytes of each layer, bottom first: one file of random bytes per layer. */
  readonly layers: readonly number[];
  /** Default `1`. */
  readonly tag?: string | undefined;
  /** Time limit per umoci step; default 120 s. */
  readonly stepTimeoutMs?: number | undefined;
}

/** umoci wants Go's architecture names; containerd pulls only the host's platform by default. */
function goArch(): string {
  const names: Record<string, string> = { x64: 'amd64', arm64: 'arm64', arm: 'arm', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64' };
  return names[process.arch] ?? process.arch;
}

async function readJson(path: string, what: string): Promise<unknown> {
  try {
    return JSON.parse(await readFile(path, 'utf8'));
  } catch (error) {
    throw new ToolError('DF_E2E_BAD_OUTPUT', `cannot read ${what} at ${path}: ${(error as Error).message}`, { cause: error });
  }
}

interface Descriptor {
  digest: string;
  size: number;
  annotations?: Record<string, string>;
}

function blobPath(layoutDir: string, digest: string): string {
  const [algorithm, hex] = digest.split(':');
  if (!algorithm || !hex) throw new ToolError('DF_E2E_BAD_OUTPUT', `not a digest: ${JSON.stringify(digest)}`);
  return join(layoutDir, 'blobs', algorithm, hex);
}

/** Reads the manifest, config and layer descriptors of `tag` from an OCI layout. */
export async function readLayout(layoutDir: string, tag: string): Promise<Omit<BuiltImage, 'layout' | 'layoutDir' | 'tag'>> {
  const index = (await readJson(join(layoutDir, 'index.json'), 'the OCI index')) as { manifests?: Descriptor[] };
  const entry = index.manifests?.find((m) => m.annotations?.['org.opencontainers.image.ref.name'] === tag);
  if (!entry) throw new ToolError('DF_E2E_BAD_OUTPUT', `the OCI index in ${layoutDir} has no manifest tagged ${tag}`);
  const manifest = (await readJson(blobPath(layoutDir, entry.digest), 'the image manifest')) as { config?: Descriptor; layers?: Descriptor[] };
  if (!manifest.config || !Array.isArray(manifest.layers)) throw new ToolError('DF_E2E_BAD_OUTPUT', `manifest ${entry.digest} lacks config or layers`);
  return {
    layers: manifest.layers.map((layer) => ({ digest: layer.digest, size: layer.size })),
    configDigest: manifest.config.digest,
    manifestDigest: entry.digest,
    manifestSize: entry.size,
  };
}

/**
 * Builds an image in `dir/oci` with one layer per entry of `layers`, each a tar of one file of
 * that many random bytes: umoci init, new, config, then `umoci raw add-layer` per layer.
 *
 * RECIPES' unpack / write / `repack --refresh-bundle` sequence gives the same kind of image, but
 * every repack rescans the whole bundle, so n layers cost O(n^2) hashing: 3 x 70 MiB took 7-8 s
 * that way (plus 1.2 s for `umoci gc`), against about 2.5 s here. No gc is needed: add-layer
 * leaves only the superseded small manifest and config blobs behind, which no tag references.
 */
export async function buildImage(dir: string, options: BuildOptions): Promise<BuiltImage> {
  check(isAbsolute(dir), `image dir must be an absolute path, got ${JSON.stringify(dir)}`);
  check(options.layers.length > 0, 'an image needs at least one layer');
  for (const size of options.layers) check(Number.isSafeInteger(size) && size >= 0, `layer sizes must be non-negative integers, got ${size}`);
  const tag = options.tag ?? '1';
  check(/^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/.test(tag), `not a valid image tag: ${JSON.stringify(tag)}`);
  const layoutDir = join(dir, 'oci');
  const image = `${layoutDir}:${tag}`;
  const timeoutMs = options.stepTimeoutMs ?? 120_000;
  const umoci = async (...args: string[]): Promise<CommandResult> =>
    mustSucceed(await runCommand(TOOL.umoci.bin, args, { timeoutMs }), `umoci ${args.slice(0, 2).join(' ')}`);
  await mkdir(dir, { recursive: true });
  await umoci('init', '--layout', layoutDir);
  await umoci('new', '--image', image);
  await umoci('config', '--image', image, '--config.cmd', '/bin/sh', '--architecture', goArch(), '--os', 'linux');
  for (const [i, size] of options.layers.entries()) {
    const tar = join(dir, `layer-${i}.tar`);
    await writeRandomTar(tar, `layer-${i}.bin`, size);
    await umoci('raw', 'add-layer', '--image', image, tar);
    await rm(tar, { force: true });
  }
  return { layout: `oci:${image}`, layoutDir, tag, ...(await readLayout(layoutDir, tag)) };
}

/** `repo/name:tag`: lowercase path components, then a tag. */
const REPOSITORY_AND_TAG = /^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:\/[a-z0-9]+(?:[._-][a-z0-9]+)*)*:[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/;

/**
 * Pushes `image` to `registry` as `target` (`repo/name:tag`) with skopeo over plain HTTP, and
 * resolves the full reference `HOST/repo/name:tag`. skopeo gets a private HOME and an
 * accept-anything policy under the image's dir, so it reads and writes nothing outside it.
 */
export async function pushImage(
  image: BuiltImage,
  registry: { readonly host: string },
  target: string,
  credentials?: RegistryCredentials,
): Promise<string> {
  check(REPOSITORY_AND_TAG.test(target), `push target must look like repo/name:tag, got ${JSON.stringify(target)}`);
  const reference = `${registry.host}/${target}`;
  const { env, policy, varLib } = await prepareHome(join(image.layoutDir, '..', 'skopeo-home'));
  const args = ['--policy', policy, 'copy', '--dest-tls-verify=false'];
  if (credentials) args.push('--dest-creds', `${credentials.user}:${credentials.password}`);
  args.push(image.layout, `docker://${reference}`);
  mustSucceed(await runContained(TOOL.skopeo.bin, args, { env, varLib, timeoutMs: 300_000 }), `skopeo copy to ${reference}`);
  return reference;
}
