/**
 * A preheat job's arguments (Dragonfly's body, snake_case), checked beyond what the JSON schema
 * says, and split in two: what may be stored and shown (credentials as `***`) and the credentials,
 * which are kept encrypted while the job runs.
 */
import { InvalidArgumentError } from '../../api/index.ts';
import type { JobCredentials } from './crypto.ts';

export const PREHEAT_SCOPES = ['single_seed_peer', 'all_seed_peers', 'all_peers'] as const;
export type PreheatScopeName = (typeof PREHEAT_SCOPES)[number];

export const PREHEAT_ARGS_DEFAULTS = Object.freeze({
  type: 'image' as const,
  platform: 'linux/amd64',
  scope: 'single_seed_peer' as PreheatScopeName,
  concurrentTaskCount: 8,
  concurrentPeerCount: 500,
  timeoutMs: 60 * 60 * 1000,
});

export interface PreheatArgs {
  type?: 'image' | 'file';
  url?: string;
  urls?: string[];
  tag?: string;
  application?: string;
  filtered_query_params?: string;
  headers?: Record<string, string>;
  username?: string;
  password?: string;
  platform?: string;
  scope?: PreheatScopeName;
  ips?: string[];
  count?: number;
  percentage?: number;
  concurrent_task_count?: number;
  concurrent_peer_count?: number;
  /** Seconds, as Dragonfly's API takes it (a Go duration in ns there; seconds are what callers send). */
  timeout?: number;
  piece_length?: number;
}

/** JSON schema of `args` for fastify: types and bounds; messages name the field. */
export const PREHEAT_ARGS_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  properties: {
    type: { type: 'string', enum: ['image', 'file'] },
    url: { type: 'string', minLength: 1, maxLength: 16_384 },
    urls: { type: 'array', maxItems: 1000, items: { type: 'string', minLength: 1, maxLength: 16_384 } },
    tag: { type: 'string', maxLength: 1024 },
    application: { type: 'string', maxLength: 1024 },
    filtered_query_params: { type: 'string', maxLength: 4096 },
    headers: { type: 'object', maxProperties: 256, additionalProperties: { type: 'string', maxLength: 16_384 } },
    username: { type: 'string', maxLength: 1024 },
    password: { type: 'string', maxLength: 4096 },
    platform: { type: 'string', maxLength: 256 },
    scope: { type: 'string', enum: [...PREHEAT_SCOPES] },
    ips: { type: 'array', maxItems: 100, items: { type: 'string', maxLength: 64 } },
    count: { type: 'integer', minimum: 1, maximum: 200 },
    percentage: { type: 'integer', minimum: 1, maximum: 100 },
    concurrent_task_count: { type: 'integer', minimum: 1, maximum: 100 },
    concurrent_peer_count: { type: 'integer', minimum: 1, maximum: 1000 },
    timeout: { type: 'integer', minimum: 1, maximum: 7 * 24 * 3600 },
    piece_length: { type: 'integer', minimum: 4 * 1024 * 1024, maximum: 64 * 1024 * 1024 },
  },
} as const;

/** Header names whose values are credentials: kept encrypted, shown as `***`. */
const SECRET_HEADER = /authorization|cookie|token|secret|key|password/i;

function checkUrl(url: string, field: string): void {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new InvalidArgumentError(`${field} is not a URL`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new InvalidArgumentError(`${field} must be http or https`);
  if (parsed.username || parsed.password) throw new InvalidArgumentError(`${field} must not carry credentials; use args.username and args.password`);
}

/** Checks what the schema cannot: one of url/urls, URL shapes. Returns the args with defaults. */
export function checkPreheatArgs(args: PreheatArgs): PreheatArgs & { type: 'image' | 'file'; scope: PreheatScopeName } {
  const type = args.type ?? PREHEAT_ARGS_DEFAULTS.type;
  if (type === 'image') {
    if (!args.url) throw new InvalidArgumentError('args.url is required for an image preheat');
    checkUrl(args.url, 'args.url');
    if (!/\/v2\/.+\/manifests\/[^/]+$/.test(new URL(args.url).pathname)) {
      throw new InvalidArgumentError('args.url must be http(s)://<registry>/v2/<repository>/manifests/<tag or digest>');
    }
  } else {
    const urls = args.urls && args.urls.length > 0 ? args.urls : args.url ? [args.url] : [];
    if (urls.length === 0) throw new InvalidArgumentError('args.urls is required for a file preheat');
    urls.forEach((url, i) => checkUrl(url, `args.urls.${i}`));
  }
  if (args.password !== undefined && !args.username) throw new InvalidArgumentError('args.username is required with args.password');
  return { ...args, type, scope: args.scope ?? PREHEAT_ARGS_DEFAULTS.scope };
}

/** The args as stored and answered: every credential replaced by `***`. */
export function redactPreheatArgs(args: PreheatArgs): PreheatArgs {
  const out: PreheatArgs = { ...args };
  if (out.password !== undefined) out.password = '***';
  if (out.headers) out.headers = Object.fromEntries(Object.entries(out.headers).map(([name, value]) => [name, SECRET_HEADER.test(name) ? '***' : value]));
  return out;
}

/** The credentials of the args, or undefined when there are none to keep. */
export function credentialsOf(args: PreheatArgs): JobCredentials | undefined {
  if (args.username === undefined && args.password === undefined && !args.headers) return undefined;
  return { username: args.username, password: args.password, headers: args.headers };
}
