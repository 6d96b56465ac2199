/**
 * `dfdaemon init-runtime`: plans every file first (so an invalid registries.conf stops the run
 * before anything is written), then writes each changed file atomically with a backup, and prints
 * one line per file: created, updated (with the backup's name) or unchanged.
 */
import { access } from 'node:fs/promises';
import { dirname } from 'node:path';
import { DfError } from '../../api/index.ts';
import { UsageError } from '../errors.ts';
import { INIT_RUNTIME_USAGE, parseInitRuntimeArgs, type InitRuntimeArgs } from './args.ts';
import { HOSTS_TOML_MARKER, hostsTomlPath, renderHostsToml } from './containerd.ts';
import { readIfExists, replaceFile } from './files.ts';
import { mergeRegistriesConf } from './registries-conf.ts';
import { DEFAULT_HOST_NAMESPACE, DOCKER_HUB } from './registry.ts';

export interface InitRuntimeIo {
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
  readonly cwd: string;
  /** The clock that names backups; tests may fix it. */
  readonly now?: () => Date;
}

interface PlannedFile {
  readonly path: string;
  readonly text: string;
  readonly previous: string | undefined;
}

interface Plan {
  readonly files: PlannedFile[];
  readonly notes: string[];
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

/**
 * Which config files to write: the runtimes named; else those whose path was given (a user who
 * names one file means that one); else those whose config location exists.
 */
async function chooseTargets(args: InitRuntimeArgs): Promise<{ containerd: boolean; registriesConf: boolean }> {
  if (args.runtimes) {
    return { containerd: args.runtimes.includes('containerd'), registriesConf: args.runtimes.some((name) => name !== 'containerd') };
  }
  if (args.given.containerdCertsDir || args.given.registriesConf) {
    return { containerd: args.given.containerdCertsDir, registriesConf: args.given.registriesConf };
  }
  const containerd = (await exists(args.containerdCertsDir)) || (await exists(dirname(args.containerdCertsDir)));
  const registriesConf = (await exists(args.registriesConf)) || (await exists(dirname(args.registriesConf)));
  if (!containerd && !registriesConf) {
    throw new UsageError(
      `found no container runtime config (neither ${dirname(args.containerdCertsDir)} nor ${dirname(args.registriesConf)} exists); name one with --runtime, --containerd-certs-dir or --registries-conf`,
    );
  }
  return { containerd, registriesConf };
}

async function plan(args: InitRuntimeArgs): Promise<Plan> {
  const targets = await chooseTargets(args);
  const files: PlannedFile[] = [];
  const notes: string[] = [];
  if (targets.containerd) {
    for (const registry of args.registries) {
      const path = hostsTomlPath(args.containerdCertsDir, registry);
      const previous = await readIfExists(path);
      if (previous !== undefined && !previous.startsWith(HOSTS_TOML_MARKER)) {
        notes.push(`${path} was not written by init-runtime; it is replaced (the old one is kept as a backup)`);
      }
      files.push({ path, text: renderHostsToml(registry, args.mirror), previous });
    }
    notes.push(
      `containerd reads ${args.containerdCertsDir} only when its config.toml names it: config_path under ` +
        `[plugins."io.containerd.grpc.v1.cri".registry] (containerd 2: [plugins."io.containerd.cri.v1.images".registry]); ` +
        `ctr needs --hosts-dir ${args.containerdCertsDir}`,
    );
  }
  if (targets.registriesConf) {
    const registries = args.registries.filter((registry) => registry.host !== DEFAULT_HOST_NAMESPACE);
    if (registries.length < args.registries.length) notes.push(`${DEFAULT_HOST_NAMESPACE} is containerd's; registries.conf has no catch-all, so it is skipped there`);
    if (registries.length > 0) {
      const previous = await readIfExists(args.registriesConf);
      const merge = mergeRegistriesConf(previous ?? '', registries, args.mirror, args.registriesConf);
      for (const prefix of merge.replaced) notes.push(`${args.registriesConf}: the existing [[registry]] table for ${prefix} is replaced (the old one is kept in the backup)`);
      files.push({ path: args.registriesConf, text: merge.text, previous });
      const others = registries.filter((registry) => registry.host !== DOCKER_HUB).map((registry) => registry.host);
      if (others.length > 0) {
        notes.push(
          `registries.conf cannot send X-Dragonfly-Registry, so the mirror fetches pulls of ${others.join(', ')} from its ` +
            `proxy.registryMirror.addr (default https://index.docker.io); set it to that registry, or the runtime falls back to the registry itself`,
        );
      }
    }
  }
  return { files, notes };
}

function indent(text: string): string {
  return text.replace(/\r?\n$/, '').split(/\r?\n/).map((line) => (line === '' ? '' : `    ${line}`)).join('\n');
}

/** Runs `dfdaemon init-runtime argv...`; returns the exit code (0 done, 1 a bad flag or file). */
export async function initRuntimeMain(argv: readonly string[], io: InitRuntimeIo): Promise<number> {
  try {
    const parsed = parseInitRuntimeArgs(argv, io.cwd);
    if (parsed.type === 'help') {
      io.stdout.write(INIT_RUNTIME_USAGE);
      return 0;
    }
    const { args } = parsed;
    const { files, notes } = await plan(args);
    const now = io.now ?? (() => new Date());
    for (const file of files) {
      if (file.previous === file.text) {
        io.stdout.write(`unchanged ${file.path}\n`);
      } else if (args.dryRun) {
        io.stdout.write(`would ${file.previous === undefined ? 'create' : 'update'} ${file.path}:\n${indent(file.text)}\n`);
      } else {
        const { backup } = await replaceFile(file.path, file.text, now());
        io.stdout.write(backup ? `updated ${file.path} (backup: ${backup})\n` : `created ${file.path}\n`);
      }
    }
    for (const note of notes) io.stdout.write(`note: ${note}\n`);
    if (args.dryRun) io.stdout.write('dry run: nothing was written\n');
    return 0;
  } catch (error) {
    if (!(error instanceof DfError)) throw error;
    const hint = error instanceof UsageError ? ' (see dfdaemon init-runtime --help)' : '';
    io.stderr.write(`dfdaemon init-runtime: error: ${error.message}${hint}\n`);
    return 1;
  }
}
