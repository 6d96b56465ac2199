/** dfget's command line: parsed and validated once, into a frozen object. Pure: no I/O. */
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { MAX_PIECE_LENGTH, MIN_PIECE_LENGTH, parseDigest, parseDuration, parseSize, DfError } from '../../api/index.ts';
import { UsageError } from '../errors.ts';
import { isLogLevel, type LogLevel } from '../log.ts';

export interface DfgetArgs {
  readonly url: string;
  readonly output: string;
  readonly digest?: string | undefined;
  readonly headers: Readonly<Record<string, string>>;
  readonly pieceLength?: number | undefined;
  readonly timeoutMs: number;
  readonly pieceTimeoutMs: number;
  /** Unset: the daemon's (its cluster's, from the manager), else 8. */
  readonly concurrentPieceCount?: number | undefined;
  /** Scheduling priority, 0 (lowest) to 6 (Dragonfly's default). */
  readonly priority: number;
  readonly overwrite: boolean;
  readonly fsync: boolean;
  readonly tag?: string | undefined;
  readonly application?: string | undefined;
  readonly filteredQueryParams?: readonly string[] | undefined;
  readonly progress: boolean;
  readonly logLevel: LogLevel;
  readonly storageDir: string;
  /** The local dfdaemon's unix socket; when nothing answers there, dfget downloads by itself. */
  readonly endpoint: string;
}

export const DFGET_DEFAULTS = Object.freeze({
  timeout: '2h',
  pieceTimeout: '360s',
  concurrentPieceCount: 8,
  priority: 6,
  logLevel: 'warn' as LogLevel,
});

/** Dragonfly's default dfdaemon socket; `DFDAEMON_SOCKET` in the environment overrides it. */
export const DEFAULT_ENDPOINT = '/var/run/dragonfly/dfdaemon.sock';

export const USAGE = `Usage: dfget <URL> -O <PATH> [options]

Downloads URL to PATH in pieces, verified, resuming from what an earlier run stored. When a dfdaemon
answers on the endpoint socket, the daemon downloads it (from peers, or the origin) and writes PATH;
otherwise dfget downloads it by itself from the origin.

Options:
  -O, --output <PATH>              where to put the file (required)
  -e, --endpoint <SOCKET>          the dfdaemon's unix socket (default: $DFDAEMON_SOCKET, else ${DEFAULT_ENDPOINT})
      --digest <ALG:VALUE>         expected digest of the whole file: sha256:<hex>, sha512:<hex>, crc32:<decimal>
  -H, --header <'K: V'>            request header for the origin (repeatable)
      --piece-length <SIZE>        piece length, at least 4MiB (default: by content length)
      --timeout <DURATION>         give up after this long (default ${DFGET_DEFAULTS.timeout})
      --piece-timeout <DURATION>   a piece request that moves no bytes this long is retried (default ${DFGET_DEFAULTS.pieceTimeout})
      --concurrent-piece-count <N> pieces fetched at once (default: the daemon's cluster setting, else ${DFGET_DEFAULTS.concurrentPieceCount})
      --priority <0-6>             scheduling priority of the task (default ${DFGET_DEFAULTS.priority})
      --overwrite                  replace PATH if it exists
      --fsync                      flush the file to disk before it appears at PATH (crash-safe; slower)
      --tag <TAG>                  tag that tells apart tasks of the same URL
      --application <NAME>         application that tells apart tasks of the same URL
      --filtered-query-param <P>   query parameter left out of the task id (repeatable; default: S3/GCS/OSS/OBS/COS signatures and ns)
      --storage-dir <DIR>          where pieces are kept until the file is complete (default: $XDG_CACHE_HOME/dragonfly/dfget)
      --no-progress                no progress bar
  -l, --log-level <LEVEL>          error, warn, info or debug (default ${DFGET_DEFAULTS.logLevel}); logs are JSON on stderr
  -h, --help                       this text
  -V, --version                    the version
`;

export type ParsedCommand = { readonly type: 'help' } | { readonly type: 'version' } | { readonly type: 'download'; readonly args: DfgetArgs };

/** Wraps a unit parser so its error names the flag. */
function flag<T>(name: string, parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    if (error instanceof DfError) throw new UsageError(`--${name}: ${error.message}`);
    throw error;
  }
}

function parseHeader(text: string): [string, string] {
  const colon = text.indexOf(':');
  const name = colon > 0 ? text.slice(0, colon).trim() : '';
  if (!name || !/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(name)) {
    throw new UsageError(`--header "${text}" must look like 'Name: value'`);
  }
  if (name.toLowerCase() === 'range') throw new UsageError('--header: Range is not supported; dfget downloads whole files');
  return [name, text.slice(colon + 1).trim()];
}

export function defaultStorageDir(env: NodeJS.ProcessEnv = process.env): string {
  const cache = env.XDG_CACHE_HOME || join(homedir(), '.cache');
  return join(cache, 'dragonfly', 'dfget');
}

export function parseDfgetArgs(argv: readonly string[], env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): ParsedCommand {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      strict: true,
      options: {
        output: { type: 'string', short: 'O' },
        endpoint: { type: 'string', short: 'e' },
        digest: { type: 'string' },
        header: { type: 'string', short: 'H', multiple: true },
        'piece-length': { type: 'string' },
        timeout: { type: 'string' },
        'piece-timeout': { type: 'string' },
        'concurrent-piece-count': { type: 'string' },
        priority: { type: 'string' },
        overwrite: { type: 'boolean' },
        fsync: { type: 'boolean' },
        tag: { type: 'string' },
        application: { type: 'string' },
        'filtered-query-param': { type: 'string', multiple: true },
        'storage-dir': { type: 'string' },
        'no-progress': { type: 'boolean' },
        'log-level': { type: 'string', short: 'l' },
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean', short: 'V' },
      },
    });
  } catch (error) {
    throw new UsageError((error as Error).message.replace(/\. To specify a positional argument.*$/s, ''));
  }
  const { values, positionals } = parsed;
  if (values.help) return { type: 'help' };
  if (values.version) return { type: 'version' };
  if (positionals.length !== 1) {
    throw new UsageError(positionals.length === 0 ? 'missing URL' : `expected one URL, got ${positionals.length}: ${positionals.join(' ')}`);
  }
  const url = positionals[0]!;
  let parsedUrl: URL;
  try {
    parsedUrl = new URL(url);
  } catch {
    throw new UsageError(`"${url}" is not a URL (expected e.g. https://example.com/file)`);
  }
  if (parsedUrl.pathname.endsWith('/') && parsedUrl.pathname !== '/' && parsedUrl.protocol.startsWith('http')) {
    throw new UsageError(`"${url}" ends with "/": directory downloads are not supported for http(s)`);
  }
  if (!values.output) throw new UsageError('missing -O/--output PATH');
  const pieceLength = values['piece-length'] === undefined ? undefined : flag('piece-length', () => parseSize(values['piece-length']!));
  if (pieceLength !== undefined && (pieceLength < MIN_PIECE_LENGTH || pieceLength > MAX_PIECE_LENGTH)) {
    throw new UsageError(`--piece-length must be between 4MiB and 64MiB, got ${values['piece-length']}`);
  }
  if (values.digest !== undefined) flag('digest', () => parseDigest(values.digest!));
  const logLevel = values['log-level'] ?? DFGET_DEFAULTS.logLevel;
  if (!isLogLevel(logLevel)) throw new UsageError(`--log-level must be error, warn, info or debug, got "${logLevel}"`);
  const countText = values['concurrent-piece-count'] ?? String(DFGET_DEFAULTS.concurrentPieceCount);
  // Number() alone would take '0x10', '1e2' or ' 8 '.
  const count = /^\d+$/.test(countText) ? Number(countText) : Number.NaN;
  if (!Number.isSafeInteger(count) || count < 1 || count > 1024) {
    throw new UsageError(`--concurrent-piece-count must be an integer from 1 to 1024, got "${values['concurrent-piece-count']}"`);
  }
  const priorityText = values.priority ?? String(DFGET_DEFAULTS.priority);
  if (!/^[0-6]$/.test(priorityText)) throw new UsageError(`--priority must be 0 to 6, got "${priorityText}"`);
  const timeoutMs = flag('timeout', () => parseDuration(values.timeout ?? DFGET_DEFAULTS.timeout));
  const pieceTimeoutMs = flag('piece-timeout', () => parseDuration(values['piece-timeout'] ?? DFGET_DEFAULTS.pieceTimeout));
  if (timeoutMs <= 0) throw new UsageError('--timeout must be more than 0');
  if (pieceTimeoutMs <= 0) throw new UsageError('--piece-timeout must be more than 0');
  return {
    type: 'download',
    args: Object.freeze({
      url,
      output: resolve(cwd, values.output),
      digest: values.digest,
      headers: Object.freeze(Object.fromEntries((values.header ?? []).map(parseHeader))),
      pieceLength,
      timeoutMs,
      pieceTimeoutMs,
      concurrentPieceCount: values['concurrent-piece-count'] === undefined ? undefined : count,
      priority: Number(priorityText),
      overwrite: values.overwrite ?? false,
      fsync: values.fsync ?? false,
      tag: values.tag,
      application: values.application,
      filteredQueryParams: values['filtered-query-param'],
      progress: !values['no-progress'],
      logLevel,
      storageDir: resolve(cwd, values['storage-dir'] ?? defaultStorageDir(env)),
      endpoint: resolve(cwd, values.endpoint || env.DFDAEMON_SOCKET || DEFAULT_ENDPOINT),
    }),
  };
}
