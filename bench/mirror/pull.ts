/**
 * A pull the way a container runtime does it: the manifest by tag with the Accept header runtimes
 * send, then every blob it lists at once over keep-alive connections, each blob's sha256 checked
 * against its digest. Either straight from the registry or through a dfdaemon's mirror, which
 * learns the upstream from the `X-Dragonfly-Registry` header.
 */
import { createHash } from 'node:crypto';
import { Agent } from 'node:http';
import { fetchBlob, send } from './http.ts';
import { OCI_MANIFEST, type BenchImage } from './image.ts';

/** containerd's list: Docker v2 and OCI manifests and indexes. */
export const MANIFEST_ACCEPT = [
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  OCI_MANIFEST,
  'application/vnd.oci.image.index.v1+json',
  '*/*',
].join(', ');

const REQUEST_IDLE_TIMEOUT_MS = 60_000;

/** Where requests go: the registry itself, or a mirror plus the header naming the registry. */
export interface PullTarget {
  readonly label: string;
  /** `http://127.0.0.1:PORT` */
  readonly base: string;
  readonly headers: Readonly<Record<string, string>>;
}

export function directTarget(registryUrl: string): PullTarget {
  return { label: 'registry', base: registryUrl, headers: {} };
}

export function mirrorTarget(label: string, proxyPort: number, registryUrl: string): PullTarget {
  return { label, base: `http://127.0.0.1:${proxyPort}`, headers: { 'x-dragonfly-registry': registryUrl } };
}

export interface PulledBlob {
  readonly digest: string;
  readonly size: number;
  readonly seconds: number;
  readonly firstByteMs: number;
  /** Size and sha256 as the manifest says. */
  readonly verified: boolean;
}

export interface PullResult {
  readonly target: string;
  readonly wallSeconds: number;
  readonly manifestMs: number;
  readonly blobs: readonly PulledBlob[];
}

/** The manifest of `image` from `target`, checked to be the one pushed. */
export async function getManifest(target: PullTarget, image: BenchImage, agent: Agent | false, signal: AbortSignal): Promise<void> {
  const answer = await send(`${target.base}/v2/${image.name}/manifests/${image.tag}`, {
    headers: { ...target.headers, accept: MANIFEST_ACCEPT },
    agent,
    timeoutMs: REQUEST_IDLE_TIMEOUT_MS,
    signal,
  });
  if (answer.status !== 200) throw new Error(`${target.label}: manifest GET answered ${answer.status}: ${answer.body.toString('utf8').slice(0, 300)}`);
  const digest = `sha256:${createHash('sha256').update(answer.body).digest('hex')}`;
  if (digest !== image.manifestDigest) throw new Error(`${target.label}: the manifest's digest is ${digest}, pushed was ${image.manifestDigest}`);
}

/** Pulls `image` through `target`; resolves with per-blob timings and verification. */
export async function pullImage(target: PullTarget, image: BenchImage, signal: AbortSignal): Promise<PullResult> {
  const agent = new Agent({ keepAlive: true });
  try {
    const started = performance.now();
    await getManifest(target, image, agent, signal);
    const manifestMs = performance.now() - started;
    const blobs = await Promise.all(
      image.blobs.map(async (blob): Promise<PulledBlob> => {
        const got = await fetchBlob(`${target.base}/v2/${image.name}/blobs/${blob.digest}`, { headers: target.headers, agent, timeoutMs: REQUEST_IDLE_TIMEOUT_MS, signal });
        return {
          digest: blob.digest,
          size: got.bytes,
          seconds: got.totalMs / 1000,
          firstByteMs: got.firstByteMs,
          verified: got.bytes === blob.size && `sha256:${got.sha256}` === blob.digest,
        };
      }),
    );
    return { target: target.label, wallSeconds: (performance.now() - started) / 1000, manifestMs, blobs };
  } finally {
    agent.destroy();
  }
}
