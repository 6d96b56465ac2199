/**
 * Config files as data: a schema of fields with defaults, from which both the resolved type and the
 * validation follow. `resolveConfig(schema, raw)` fills defaults, converts human units (`30s`,
 * `4MiB`, `100Mbps`), rejects unknown keys and bad values naming the key's path, and freezes.
 * Pure: the caller reads the file and parses YAML.
 */
import { DfError } from './errors.ts';
import { parseDuration, parseRate, parseSize } from './units.ts';

export class ConfigError extends DfError {
  readonly path: string;
  constructor(path: string, message: string) {
    super('DF_ERR_INVALID_CONFIG', `config ${path || '(root)'}: ${message}`);
    this.name = 'ConfigError';
    this.path = path;
  }
}

interface Base<K extends string, T> {
  readonly kind: K;
  readonly default: T;
  readonly doc?: string;
}
export type StringField = Base<'string', string> & { readonly allowed?: readonly string[]; readonly pattern?: RegExp };
export type IntField = Base<'int', number> & { readonly min?: number; readonly max?: number };
export type BoolField = Base<'bool', boolean>;
/** Milliseconds from `30s`, `5m`. */
export type DurationField = Base<'duration', number>;
/** Bytes from `4MiB`. */
export type SizeField = Base<'size', number>;
/** Bits per second from `100Mbps`. */
export type RateField = Base<'rate', number>;
export type ListField = Base<'list', readonly string[]>;
/** A field that may be absent; resolves to undefined then. */
export type OptionalStringField = Base<'optionalString', string | undefined>;
export interface ObjectField<S extends Schema = Schema> {
  readonly kind: 'object';
  readonly fields: S;
  readonly doc?: string;
}
/** A list of mappings, each resolved against `fields` (e.g. proxy rules). */
export interface RecordsField<S extends Schema = Schema> {
  readonly kind: 'records';
  readonly fields: S;
  readonly default: readonly Resolved<S>[];
  readonly doc?: string | undefined;
}
export type Field = StringField | IntField | BoolField | DurationField | SizeField | RateField | ListField | OptionalStringField | ObjectField | RecordsField;
export type Schema = { readonly [key: string]: Field };

export type Resolved<S extends Schema> = {
  readonly [K in keyof S]: S[K] extends ObjectField<infer Inner>
    ? Resolved<Inner>
    : S[K] extends RecordsField<infer Item>
      ? readonly Resolved<Item>[]
      : S[K] extends Base<string, infer T>
        ? T
        : never;
};

// Builders keep schemas short and typed.
export const field = {
  string: (value: string, extra: Partial<StringField> = {}): StringField => ({ kind: 'string', default: value, ...extra }),
  optionalString: (extra: Partial<OptionalStringField> = {}): OptionalStringField => ({ kind: 'optionalString', default: undefined, ...extra }),
  int: (value: number, extra: Partial<IntField> = {}): IntField => ({ kind: 'int', default: value, ...extra }),
  bool: (value: boolean, doc?: string): BoolField => ({ kind: 'bool', default: value, doc }),
  duration: (value: string, doc?: string): DurationField => ({ kind: 'duration', default: parseDuration(value), doc }),
  size: (value: string, doc?: string): SizeField => ({ kind: 'size', default: parseSize(value), doc }),
  rate: (value: string, doc?: string): RateField => ({ kind: 'rate', default: parseRate(value), doc }),
  list: (value: readonly string[], doc?: string): ListField => ({ kind: 'list', default: value, doc }),
  object: <S extends Schema>(fields: S, doc?: string): ObjectField<S> => ({ kind: 'object', fields, doc }),
  /** `defaults` are raw values, resolved (and checked) like user input. */
  records: <S extends Schema>(fields: S, defaults: readonly unknown[], doc?: string): RecordsField<S> => ({
    kind: 'records',
    fields,
    default: Object.freeze(defaults.map((item, i) => resolveObject(fields, item, `[${i}]`) as Resolved<S>)),
    doc,
  }),
};

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function converted(path: string, value: unknown, parse: (text: string | number) => number, example: string): number {
  if (typeof value !== 'string' && typeof value !== 'number') throw new ConfigError(path, `expected e.g. ${example}, got ${JSON.stringify(value)}`);
  try {
    return parse(value);
  } catch (error) {
    throw new ConfigError(path, (error as Error).message);
  }
}

function resolveField(f: Field, raw: unknown, path: string): unknown {
  if (f.kind === 'object') return resolveObject(f.fields, raw ?? {}, path);
  if (f.kind === 'records') {
    if (raw === undefined || raw === null) return f.default;
    if (!Array.isArray(raw)) throw new ConfigError(path, `expected a list of mappings, got ${JSON.stringify(raw)}`);
    return Object.freeze(raw.map((item, i) => resolveObject(f.fields, item, `${path}[${i}]`)));
  }
  if (raw === undefined || raw === null) return f.kind === 'list' ? Object.freeze([...f.default]) : f.default;
  switch (f.kind) {
    case 'string':
    case 'optionalString': {
      if (typeof raw !== 'string') throw new ConfigError(path, `expected a string, got ${JSON.stringify(raw)}`);
      if (f.kind === 'string' && f.allowed && !f.allowed.includes(raw)) {
        throw new ConfigError(path, `"${raw}" is not one of ${f.allowed.join(', ')}`);
      }
      if (f.kind === 'string' && f.pattern && !f.pattern.test(raw)) throw new ConfigError(path, `"${raw}" does not match ${f.pattern}`);
      return raw;
    }
    case 'int': {
      if (typeof raw !== 'number' || !Number.isSafeInteger(raw)) throw new ConfigError(path, `expected an integer, got ${JSON.stringify(raw)}`);
      if (f.min !== undefined && raw < f.min) throw new ConfigError(path, `must be at least ${f.min}, got ${raw}`);
      if (f.max !== undefined && raw > f.max) throw new ConfigError(path, `must be at most ${f.max}, got ${raw}`);
      return raw;
    }
    case 'bool':
      if (typeof raw !== 'boolean') throw new ConfigError(path, `expected true or false, got ${JSON.stringify(raw)}`);
      return raw;
    case 'duration':
      return converted(path, raw, parseDuration, '30s');
    case 'size':
      return converted(path, raw, parseSize, '4MiB');
    case 'rate':
      return converted(path, raw, parseRate, '100Mbps');
    case 'list':
      if (!Array.isArray(raw) || raw.some((item) => typeof item !== 'string')) {
        throw new ConfigError(path, `expected a list of strings, got ${JSON.stringify(raw)}`);
      }
      return Object.freeze([...raw]);
  }
}

function resolveObject(schema: Schema, raw: unknown, path: string): Record<string, unknown> {
  if (!isPlainObject(raw)) throw new ConfigError(path, `expected a mapping, got ${JSON.stringify(raw)}`);
  for (const key of Object.keys(raw)) {
    if (!(key in schema)) {
      throw new ConfigError(path ? `${path}.${key}` : key, `unknown key; allowed here: ${Object.keys(schema).join(', ')}`);
    }
  }
  const out: Record<string, unknown> = {};
  for (const [key, f] of Object.entries(schema)) out[key] = resolveField(f, raw[key], path ? `${path}.${key}` : key);
  return Object.freeze(out);
}

/** Defaults filled, units converted, unknown keys and bad values rejected with their path; frozen. */
export function resolveConfig<S extends Schema>(schema: S, raw: unknown): Resolved<S> {
  return resolveObject(schema, raw ?? {}, '') as Resolved<S>;
}
