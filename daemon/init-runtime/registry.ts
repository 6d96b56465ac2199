/**
 * Registries and the mirror as init-runtime understands them: parsing `--registry` and `--mirror`
 * values, and the upstream each registry has. Pure: no I/O.
 */
import { isIP } from 'node:net';
import { UsageError } from '../errors.ts';

/** containerd's catch-all host directory: used for any registry that has no directory of its own. */
export const DEFAULT_HOST_NAMESPACE = '_default';

/** Docker Hub's name in image references; `index.docker.io` means the same registry. */
export const DOCKER_HUB = 'docker.io';
/** Where Docker Hub's registry API answers (what containerd uses as `server`). */
export const DOCKER_HUB_SERVER = 'https://registry-1.docker.io';
/** The upstream Dragonfly's dfinit names in `X-Dragonfly-Registry` for Docker Hub; the mirror maps it. */
export const DOCKER_HUB_REGISTRY_HEADER = 'https://index.docker.io';

export const DEFAULT_MIRROR = 'http://127.0.0.1:4001';

/** One registry to send through the mirror. */
export interface RegistryTarget {
  /** The registry as image references name it (`docker.io`, `127.0.0.1:5000`) or `_default`. */
  readonly host: string;
  /** The registry's own API endpoint, with scheme (containerd's `server`); undefined for `_default`. */
  readonly server: string | undefined;
  /** The value of `X-Dragonfly-Registry`: the upstream the mirror fetches from; undefined for `_default`. */
  readonly registryHeader: string | undefined;
  /** The upstream speaks plain HTTP (registries.conf needs `insecure = true` on the registry then). */
  readonly plainHttp: boolean;
}

/** The mirror's address: `http://127.0.0.1:4001` as a URL origin and as `host:port` for registries.conf. */
export interface MirrorAddress {
  readonly origin: string;
  readonly hostPort: string;
  readonly plainHttp: boolean;
}

const LABEL = /^[a-z0-9]([a-z0-9-_]{0,61}[a-z0-9])?$/i;

/** True for `name`, `name.tld`, `name:5000`, `1.2.3.4:5000`, `[::1]:5000`; what a registry reference may start with. */
function isHostPort(text: string): boolean {
  let host = text;
  let port: string | undefined;
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(text);
  if (bracketed) {
    if (isIP(bracketed[1]!) !== 6) return false;
    port = bracketed[2];
    host = '';
  } else {
    const colon = text.lastIndexOf(':');
    if (colon !== -1) {
      host = text.slice(0, colon);
      port = text.slice(colon + 1);
      if (!/^\d+$/.test(port)) return false;
    }
  }
  if (port !== undefined && (Number(port) < 1 || Number(port) > 65535)) return false;
  if (host === '') return bracketed !== null;
  if (isIP(host) === 4) return true;
  return host.length <= 253 && host.split('.').every((label) => LABEL.test(label));
}

/**
 * Parses one `--registry` value: `HOST[:PORT]`, `http://HOST[:PORT]` / `https://HOST[:PORT]` (the
 * scheme says how the upstream is reached and wins over `plainHttp`), or `_default`.
 * Docker Hub gets Dragonfly's upstreams (server registry-1.docker.io, header index.docker.io) and
 * is always https.
 */
export function parseRegistry(value: string, options: { plainHttp: boolean }): RegistryTarget {
  if (value === DEFAULT_HOST_NAMESPACE) {
    return Object.freeze({ host: DEFAULT_HOST_NAMESPACE, server: undefined, registryHeader: undefined, plainHttp: options.plainHttp });
  }
  let plainHttp = options.plainHttp;
  let host = value;
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(value);
  if (scheme) {
    const name = scheme[1]!.toLowerCase();
    if (name !== 'http' && name !== 'https') throw new UsageError(`--registry ${value}: scheme must be http or https`);
    plainHttp = name === 'http';
    host = value.slice(scheme[0].length).replace(/\/$/, '');
  }
  if (host.includes('/')) {
    throw new UsageError(`--registry ${value}: expected a registry host such as docker.io or 127.0.0.1:5000, without a path`);
  }
  if (!isHostPort(host)) throw new UsageError(`--registry ${value}: "${host}" is not a host name or IP with an optional port`);
  host = host.toLowerCase();
  if (host === 'index.docker.io') host = DOCKER_HUB;
  if (host === DOCKER_HUB) {
    // Docker Hub is HTTPS only: `--plain-http` is meant for the other (local) registries.
    if (scheme?.[1]!.toLowerCase() === 'http') throw new UsageError(`--registry ${value}: Docker Hub is reached over https only`);
    return Object.freeze({ host, server: DOCKER_HUB_SERVER, registryHeader: DOCKER_HUB_REGISTRY_HEADER, plainHttp: false });
  }
  const upstream = `${plainHttp ? 'http' : 'https'}://${host}`;
  return Object.freeze({ host, server: upstream, registryHeader: upstream, plainHttp });
}

/** Parses `--mirror`: an http(s) URL with a host and port, no path, query or credentials. */
export function parseMirror(value: string): MirrorAddress {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new UsageError(`--mirror ${value}: not a URL (expected e.g. ${DEFAULT_MIRROR})`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new UsageError(`--mirror ${value}: scheme must be http or https`);
  if (url.username || url.password || url.search || url.hash || (url.pathname !== '/' && url.pathname !== '')) {
    throw new UsageError(`--mirror ${value}: expected only scheme, host and port (e.g. ${DEFAULT_MIRROR})`);
  }
  const plainHttp = url.protocol === 'http:';
  const port = url.port || (plainHttp ? '80' : '443');
  return Object.freeze({ origin: url.origin, hostPort: `${url.hostname}:${port}`, plainHttp });
}
