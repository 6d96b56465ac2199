/**
 * containerd's registry host config (`<certs.d>/<registry>/hosts.toml`): the mirror is tried
 * first for pull and resolve, the registry's own `server` after it. Pure: no I/O.
 */
import { join } from 'node:path';
import type { MirrorAddress, RegistryTarget } from './registry.ts';
import { tomlString } from './toml.ts';

export const DEFAULT_CONTAINERD_CERTS_DIR = '/etc/containerd/certs.d';

/** The header that tells the mirror which upstream to fetch from (`ns=` is the fallback). */
export const REGISTRY_HEADER = 'X-Dragonfly-Registry';

/** The first line of every hosts.toml init-runtime writes: how a later run or a reader recognises it. */
export const HOSTS_TOML_MARKER = '# Written by dfdaemon init-runtime';

/** Where containerd looks for the registry's host config. */
export function hostsTomlPath(certsDir: string, target: RegistryTarget): string {
  // containerd names an IPv6 registry's directory with its brackets, as in the image reference.
  return join(certsDir, target.host, 'hosts.toml');
}

/**
 * The whole hosts.toml for one registry. `_default` has no `server` (containerd then uses the
 * requested registry itself) and no header (containerd's `ns=` query names the registry).
 */
export function renderHostsToml(target: RegistryTarget, mirror: MirrorAddress): string {
  const host = tomlString(mirror.origin);
  const what = target.server === undefined ? 'every registry without a directory of its own' : target.host;
  const lines = [`${HOSTS_TOML_MARKER}: pulls from ${what} go through the dfdaemon registry mirror first.`];
  if (target.server !== undefined) lines.push(`server = ${tomlString(target.server)}`);
  lines.push('', `[host.${host}]`, '  capabilities = ["pull", "resolve"]');
  if (target.registryHeader !== undefined) {
    lines.push('', `[host.${host}.header]`, `  ${REGISTRY_HEADER} = ${tomlString(target.registryHeader)}`);
  }
  return `${lines.join('\n')}\n`;
}
