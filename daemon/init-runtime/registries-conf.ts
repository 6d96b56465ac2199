/**
 * containers-registries.conf(5) (CRI-O, podman, skopeo, buildah): one `[[registry]]` table per
 * registry with the mirror as its first `[[registry.mirror]]`, merged into a file that may hold
 * anything else. The rest of the file's text is kept byte for byte: only the block between our
 * marker comments is rewritten, or an unmarked table for the same prefix is replaced (containers
 * refuses a file with a prefix twice). Pure: no I/O.
 */
import { isDeepStrictEqual } from 'node:util';
import { InvalidConfigFileError } from './errors.ts';
import type { MirrorAddress, RegistryTarget } from './registry.ts';
import { parseToml, tomlString } from './toml.ts';

export const DEFAULT_REGISTRIES_CONF = '/etc/containers/registries.conf';

const BEGIN_MARKER = '# dfdaemon init-runtime: begin ';
const END_MARKER = '# dfdaemon init-runtime: end ';
const REGISTRY_HEADER = /^\s*\[\[\s*registry\s*\]\]\s*(#.*)?$/;
/** Any table header with bare keys (`[aliases]`, `[[registry.mirror]]`); quoted keys do not occur in these files. */
const TABLE_HEADER = /^\s*\[\[?\s*[A-Za-z0-9_-]+(\s*\.\s*[A-Za-z0-9_-]+)*\s*\]\]?\s*(#.*)?$/;
const REGISTRY_SUBTABLE = /^\s*\[\[?\s*registry\s*\./;

export interface RegistriesConfMerge {
  readonly text: string;
  /** Prefixes whose existing table (not written by us) was replaced by ours. */
  readonly replaced: readonly string[];
}

/** The marked block for one registry, as lines (no line endings). */
export function renderRegistryBlock(target: RegistryTarget, mirror: MirrorAddress): string[] {
  const lines = [
    `${BEGIN_MARKER}${target.host}`,
    '[[registry]]',
    `prefix = ${tomlString(target.host)}`,
    `location = ${tomlString(target.host)}`,
  ];
  if (target.plainHttp) lines.push('insecure = true');
  lines.push('', '[[registry.mirror]]', `location = ${tomlString(mirror.hostPort)}`);
  // A plain-HTTP mirror on loopback needs `insecure`; containers would otherwise insist on TLS.
  if (mirror.plainHttp) lines.push('insecure = true');
  lines.push(`${END_MARKER}${target.host}`);
  return lines;
}

interface Edit {
  readonly start: number;
  /** Exclusive. */
  readonly end: number;
  readonly lines: readonly string[];
}

/** The prefix containers uses for a `[[registry]]` table: `prefix`, else `location`. */
function prefixOf(entry: unknown): string | undefined {
  if (typeof entry !== 'object' || entry === null) return undefined;
  const { prefix, location } = entry as { prefix?: unknown; location?: unknown };
  if (typeof prefix === 'string' && prefix !== '') return prefix;
  return typeof location === 'string' ? location : undefined;
}

function isBlankOrComment(line: string): boolean {
  return /^\s*(#.*)?$/.test(line);
}

/** Our marked regions by prefix: [begin line, end line + 1). */
function markedRegions(lines: readonly string[], file: string): Map<string, { start: number; end: number }> {
  const regions = new Map<string, { start: number; end: number }>();
  for (let index = 0; index < lines.length; index++) {
    const line = lines[index]!.trimEnd();
    if (!line.startsWith(BEGIN_MARKER)) continue;
    const prefix = line.slice(BEGIN_MARKER.length).trim();
    const end = lines.findIndex((other, at) => at > index && other.trimEnd() === `${END_MARKER}${prefix}`);
    if (end === -1) {
      throw new InvalidConfigFileError(`${file}:${index + 1}: "${line}" has no matching "${END_MARKER}${prefix}" line; fix or remove the marker`, { file, line: index + 1 });
    }
    if (regions.has(prefix)) {
      throw new InvalidConfigFileError(`${file}:${index + 1}: a second block marked for ${prefix}; remove one of them`, { file, line: index + 1 });
    }
    regions.set(prefix, { start: index, end: end + 1 });
    index = end;
  }
  return regions;
}

/**
 * Every `[[registry]]` table outside our markers, with its prefix and its lines: from its header
 * to the next table that is not one of its subtables, without trailing comments and blank lines
 * (those usually introduce what follows).
 */
function foreignTables(lines: readonly string[], entries: readonly unknown[], regions: Iterable<{ start: number; end: number }>, file: string): Array<{ prefix: string | undefined; start: number; end: number }> {
  const marked = [...regions];
  const inMarked = (at: number) => marked.some((region) => at >= region.start && at < region.end);
  const headers = lines.flatMap((line, at) => (REGISTRY_HEADER.test(line) ? [at] : []));
  if (headers.length !== entries.length) {
    throw new InvalidConfigFileError(
      `${file}: ${entries.length} registry entries but ${headers.length} "[[registry]]" header lines (inline registry arrays?); write each registry as a [[registry]] table`,
      { file },
    );
  }
  const tables: Array<{ prefix: string | undefined; start: number; end: number }> = [];
  headers.forEach((start, ordinal) => {
    if (inMarked(start)) return;
    let end = start + 1;
    while (end < lines.length && !(TABLE_HEADER.test(lines[end]!) && !REGISTRY_SUBTABLE.test(lines[end]!)) && !inMarked(end)) end++;
    while (end > start + 1 && isBlankOrComment(lines[end - 1]!)) end--;
    tables.push({ prefix: prefixOf(entries[ordinal]), start, end });
  });
  return tables;
}

/** The file's content with `registry` taken out, and its registry entries not for `prefixes`: what a merge must keep. */
function keptContent(document: Record<string, unknown>, prefixes: ReadonlySet<string>): { rest: Record<string, unknown>; registries: unknown[] } {
  const { registry, ...rest } = document;
  const registries = Array.isArray(registry) ? registry.filter((entry) => !prefixes.has(prefixOf(entry) ?? '')) : [];
  return { rest, registries };
}

/**
 * Merges a mirror block for each target into `existing` (the file's text, '' when it does not exist).
 * Throws InvalidConfigFileError naming `file` (and the line) when `existing` is not TOML, uses the
 * v1 format, or is laid out so that a table cannot be located; the result is checked by parsing it
 * back: every other key and registry table is unchanged, ours appear exactly once.
 */
export function mergeRegistriesConf(existing: string, targets: readonly RegistryTarget[], mirror: MirrorAddress, file: string): RegistriesConfMerge {
  const document = parseToml(existing, file);
  if ('registries' in document) {
    throw new InvalidConfigFileError(`${file}: uses the v1 format ([registries.search] and similar), which cannot be mixed with [[registry]] tables; convert it to v2 first`, { file });
  }
  const entries = Array.isArray(document.registry) ? (document.registry as unknown[]) : [];
  if (document.registry !== undefined && !Array.isArray(document.registry)) {
    throw new InvalidConfigFileError(`${file}: "registry" must be an array of tables ([[registry]])`, { file });
  }
  const eol = existing.includes('\r\n') ? '\r\n' : '\n';
  const lines = existing === '' ? [] : existing.replace(/\r?\n$/, '').split(/\r?\n/);
  const regions = markedRegions(lines, file);
  const tables = foreignTables(lines, entries, regions.values(), file);

  const edits: Edit[] = [];
  const appended: string[][] = [];
  const replaced: string[] = [];
  for (const target of targets) {
    const block = renderRegistryBlock(target, mirror);
    const foreign = tables.filter((table) => table.prefix === target.host);
    const ours = regions.get(target.host);
    const removals = ours ? foreign : foreign.slice(1);
    if (ours) edits.push({ ...ours, lines: block });
    else if (foreign[0]) {
      edits.push({ start: foreign[0].start, end: foreign[0].end, lines: block });
      replaced.push(target.host);
    } else appended.push(block);
    for (const table of removals) edits.push({ start: table.start, end: table.end, lines: [] });
  }

  const merged = [...lines];
  for (const edit of edits.sort((a, b) => b.start - a.start)) merged.splice(edit.start, edit.end - edit.start, ...edit.lines);
  for (const block of appended) {
    if (merged.length > 0 && merged.at(-1)!.trim() !== '') merged.push('');
    merged.push(...block);
  }
  const text = merged.length === 0 ? '' : `${merged.join(eol)}${eol}`;
  checkMerge(document, text, targets, mirror, file);
  return { text, replaced };
}

/** The merge kept everything else and holds each of our tables once: a bug here must not reach a runtime's config. */
function checkMerge(before: Record<string, unknown>, text: string, targets: readonly RegistryTarget[], mirror: MirrorAddress, file: string): void {
  const refuse = (cause?: unknown) =>
    new InvalidConfigFileError(`${file}: cannot add the mirror without disturbing the file's other entries; add the [[registry]] tables by hand`, { file, cause });
  let after: Record<string, unknown>;
  try {
    after = parseToml(text, file);
  } catch (error) {
    throw refuse(error);
  }
  const prefixes = new Set(targets.map((target) => target.host));
  const kept = keptContent(before, prefixes);
  const now = keptContent(after, prefixes);
  const entries = Array.isArray(after.registry) ? (after.registry as unknown[]) : [];
  const ours = targets.every((target) => {
    const found = entries.filter((entry) => prefixOf(entry) === target.host);
    const expected = (parseToml(renderRegistryBlock(target, mirror).join('\n'), 'block').registry as unknown[])[0];
    return found.length === 1 && isDeepStrictEqual(found[0], expected);
  });
  if (!ours || !isDeepStrictEqual(kept, now)) throw refuse();
}
