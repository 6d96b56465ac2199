/**
 * Which third-party binaries a test needs. A missing one skips the test loudly (message on stderr
 * naming the Debian packages to install), or fails it when `DF_E2E_REQUIRED=1`, so CI that is
 * meant to run these tests cannot pass by skipping them.
 */
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import type { TestContext } from 'vitest';
import { ToolError } from './errors.ts';

export interface ToolNeed {
  /** The binary looked up on PATH. */
  readonly bin: string;
  /** The Debian package that installs it. */
  readonly pkg: string;
}

/** The binaries these helpers run, with their Debian packages. */
export const TOOL = Object.freeze({
  registry: { bin: 'docker-registry', pkg: 'docker-registry' },
  htpasswd: { bin: 'htpasswd', pkg: 'apache2-utils' },
  umoci: { bin: 'umoci', pkg: 'umoci' },
  skopeo: { bin: 'skopeo', pkg: 'skopeo' },
  containerd: { bin: 'containerd', pkg: 'containerd' },
  ctr: { bin: 'ctr', pkg: 'containerd' },
  podman: { bin: 'podman', pkg: 'podman' },
  umount: { bin: 'umount', pkg: 'mount' },
  unshare: { bin: 'unshare', pkg: 'util-linux' },
} satisfies Record<string, ToolNeed>);

/** True when `bin` is an executable file in one of PATH's directories. */
export function onPath(bin: string): boolean {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    try {
      accessSync(join(dir, bin), constants.X_OK);
      return true;
    } catch {
      // Not in this directory; try the next.
    }
  }
  return false;
}

/** True when this process runs with effective uid 0 (containerd and rootful podman need it). */
export function isRoot(): boolean {
  return process.geteuid?.() === 0;
}

/** True when the environment asks for these tests to run, not skip. */
export function e2eRequired(): boolean {
  return process.env.DF_E2E_REQUIRED === '1';
}

function skipOrFail(t: TestContext, code: 'DF_E2E_TOOL_MISSING' | 'DF_E2E_NOT_ROOT', message: string): never {
  if (e2eRequired()) throw new ToolError(code, `${message} (DF_E2E_REQUIRED=1, so this fails instead of skipping)`);
  process.stderr.write(`\n*** SKIPPED "${t.task.name}": ${message} ***\n`);
  return t.skip(message);
}

/**
 * True when every binary in `needs` is on PATH. Otherwise skips the test (the skip throws, ending
 * it) with a message naming the missing Debian packages (also written to stderr), or throws
 * DF_E2E_TOOL_MISSING when `DF_E2E_REQUIRED=1`. Use as `if (!requireTools(t, [...])) return;`.
 */
export function requireTools(t: TestContext, needs: ReadonlyArray<ToolNeed>): boolean {
  const missing = needs.filter((need) => !onPath(need.bin));
  if (missing.length === 0) return true;
  const bins = [...new Set(missing.map((need) => need.bin))].join(', ');
  const pkgs = [...new Set(missing.map((need) => need.pkg))].join(' ');
  return skipOrFail(t, 'DF_E2E_TOOL_MISSING', `missing ${bins}: apt-get install ${pkgs}`);
}

/** Like `requireTools` for running as root: skips loudly, or throws DF_E2E_NOT_ROOT when required. */
export function requireRoot(t: TestContext, why: string): boolean {
  if (isRoot()) return true;
  return skipOrFail(t, 'DF_E2E_NOT_ROOT', `needs root: ${why}`);
}
