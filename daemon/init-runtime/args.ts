/** `dfdaemon init-runtime`'s command line, parsed and validated into a frozen object. Pure: no I/O. */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { UsageError } from '../errors.ts';
import { DEFAULT_CONTAINERD_CERTS_DIR } from './containerd.ts';
import { DEFAULT_REGISTRIES_CONF } from './registries-conf.ts';
import { DEFAULT_MIRROR, DOCKER_HUB, parseMirror, parseRegistry, type MirrorAddress, type RegistryTarget } from './registry.ts';

export const RUNTIMES = ['containerd', 'crio', 'podman'] as const;
export type RuntimeName = (typeof RUNTIMES)[number];

export interface InitRuntimeArgs {
  readonly registries: readonly RegistryTarget[];
  readonly mirror: MirrorAddress;
  readonly containerdCertsDir: string;
  readonly registriesConf: string;
  /** The runtimes named with --runtime; undefined means: those whose path was given, else those whose config location exists. */
  readonly runtimes: readonly RuntimeName[] | undefined;
  /** Which paths came from flags (without --runtime, a given path asks for that runtime only). */
  readonly given: { readonly containerdCertsDir: boolean; readonly registriesConf: boolean };
  readonly dryRun: boolean;
}

export const INIT_RUNTIME_USAGE = `Usage: dfdaemon init-runtime [options]

Points container runtimes at the local dfdaemon registry mirror, as Dragonfly's dfinit does:
  containerd            writes <certs dir>/<registry>/hosts.toml: the mirror first (pull, resolve),
                        with X-Dragonfly-Registry naming the upstream, the registry itself after it
  crio, podman, skopeo  adds a [[registry]] table with the mirror as its [[registry.mirror]] to
                        registries.conf, keeping the rest of the file (the block sits between
                        "# dfdaemon init-runtime: begin/end <registry>" comments)
A file that changes is first copied to <file>.bak-<UTC time>, then replaced atomically. Running it
again with the same options changes nothing ("unchanged").

Options:
  -r, --registry <REGISTRY>       registry to mirror, repeatable (default ${DOCKER_HUB}): HOST[:PORT],
                                  http://HOST[:PORT] for a plain-HTTP upstream, or _default
                                  (containerd only: every registry without its own directory)
      --mirror <URL>              the dfdaemon proxy (default ${DEFAULT_MIRROR})
      --runtime <NAME>            containerd, crio, podman or all; repeatable or comma-separated
                                  (default: the runtimes whose path flag is given, else each
                                  runtime whose config location exists)
      --containerd-certs-dir <DIR>  containerd's registry config_path (default ${DEFAULT_CONTAINERD_CERTS_DIR})
      --registries-conf <FILE>    registries.conf for crio/podman (default ${DEFAULT_REGISTRIES_CONF})
      --plain-http                registries given without a scheme are reached over http
                                  (Docker Hub is always https)
      --dry-run                   print what would change; write nothing
  -h, --help                      this text

Examples:
  dfdaemon init-runtime --runtime containerd --registry docker.io --registry http://127.0.0.1:5000
  dfdaemon init-runtime --runtime podman --registries-conf ~/.config/containers/registries.conf
`;

export type ParsedInitRuntime = { readonly type: 'help' } | { readonly type: 'run'; readonly args: InitRuntimeArgs };

function parseRuntimes(values: readonly string[]): RuntimeName[] {
  const names = new Set<RuntimeName>();
  for (const value of values.flatMap((text) => text.split(','))) {
    const name = value.trim().toLowerCase();
    if (name === 'all') RUNTIMES.forEach((runtime) => names.add(runtime));
    else if (name === 'cri-o') names.add('crio');
    else if ((RUNTIMES as readonly string[]).includes(name)) names.add(name as RuntimeName);
    else if (name === 'docker') throw new UsageError('--runtime docker: not supported (Dragonfly dropped Docker in v2.2.0); use containerd');
    else throw new UsageError(`--runtime ${value}: expected one of ${RUNTIMES.join(', ')}, all`);
  }
  return [...names];
}

/** Parses the arguments after `init-runtime`; relative paths are taken from `cwd`. */
export function parseInitRuntimeArgs(argv: readonly string[], cwd: string): ParsedInitRuntime {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        registry: { type: 'string', short: 'r', multiple: true },
        mirror: { type: 'string' },
        runtime: { type: 'string', multiple: true },
        'containerd-certs-dir': { type: 'string' },
        'registries-conf': { type: 'string' },
        'plain-http': { type: 'boolean' },
        'dry-run': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (error) {
    throw new UsageError((error as Error).message.replace(/\. To specify a positional argument.*$/s, ''));
  }
  const { values } = parsed;
  if (values.help) return { type: 'help' };
  const plainHttp = values['plain-http'] ?? false;
  const registries = new Map<string, RegistryTarget>();
  for (const value of values.registry ?? [DOCKER_HUB]) {
    const target = parseRegistry(value, { plainHttp });
    const earlier = registries.get(target.host);
    if (earlier && earlier.plainHttp !== target.plainHttp) throw new UsageError(`--registry ${target.host}: given both as http and https`);
    registries.set(target.host, target);
  }
  const emptyPath = (name: string, value: string | undefined) => {
    if (value === '') throw new UsageError(`--${name}: empty path`);
    return value;
  };
  const certsDir = emptyPath('containerd-certs-dir', values['containerd-certs-dir']);
  const registriesConf = emptyPath('registries-conf', values['registries-conf']);
  const args: InitRuntimeArgs = {
    registries: [...registries.values()],
    mirror: parseMirror(values.mirror ?? DEFAULT_MIRROR),
    containerdCertsDir: resolve(cwd, certsDir ?? DEFAULT_CONTAINERD_CERTS_DIR),
    registriesConf: resolve(cwd, registriesConf ?? DEFAULT_REGISTRIES_CONF),
    runtimes: values.runtime ? parseRuntimes(values.runtime) : undefined,
    given: { containerdCertsDir: certsDir !== undefined, registriesConf: registriesConf !== undefined },
    dryRun: values['dry-run'] ?? false,
  };
  return { type: 'run', args: Object.freeze(args) };
}
