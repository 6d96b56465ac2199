/** registries.conf merging: other content kept byte for byte, one table per prefix, bad files named. */
import { test } from 'vitest';
import assert from 'node:assert/strict';
import { parse } from 'smol-toml';
import { InvalidConfigFileError } from './errors.ts';
import { mergeRegistriesConf, renderRegistryBlock } from './registries-conf.ts';
import { parseMirror, parseRegistry } from './registry.ts';

const FILE = '/etc/containers/registries.conf';
const MIRROR = parseMirror('http://127.0.0.1:4001');
const HUB = parseRegistry('docker.io', { plainHttp: false });
const LOCAL = parseRegistry('http://127.0.0.1:5000', { plainHttp: false });

const HUB_BLOCK = renderRegistryBlock(HUB, MIRROR).join('\n');
const LOCAL_BLOCK = renderRegistryBlock(LOCAL, MIRROR).join('\n');

interface Registry {
  prefix?: string;
  location?: string;
  insecure?: boolean;
  mirror?: Array<{ location: string; insecure?: boolean }>;
}

function registries(text: string): Registry[] {
  return ((parse(text) as { registry?: Registry[] }).registry ?? []).map((entry) => JSON.parse(JSON.stringify(entry)) as Registry);
}

test('the block: prefix and location are the registry, the mirror is insecure (plain HTTP on loopback)', () => {
  assert.deepEqual(registries(HUB_BLOCK), [{ prefix: 'docker.io', location: 'docker.io', mirror: [{ location: '127.0.0.1:4001', insecure: true }] }]);
  assert.deepEqual(registries(LOCAL_BLOCK), [{ prefix: '127.0.0.1:5000', location: '127.0.0.1:5000', insecure: true, mirror: [{ location: '127.0.0.1:4001', insecure: true }] }]);
  assert.deepEqual(registries(renderRegistryBlock(HUB, parseMirror('https://mirror.local:8443')).join('\n'))[0]!.mirror, [{ location: 'mirror.local:8443' }]);
  assert.match(HUB_BLOCK, /^# dfdaemon init-runtime: begin docker.io\n/);
  assert.match(HUB_BLOCK, /\n# dfdaemon init-runtime: end docker.io$/);
});

test('merges: text before and after, replacement in place, idempotent', () => {
  const other = 'unqualified-search-registries = ["docker.io", "quay.io"]\n\n# quay stays as it is\n[[registry]]\nprefix = "quay.io"\nlocation = "quay.io"\nblocked = false\n';
  const aliases = '[aliases]\n"fedora" = "registry.fedoraproject.org/fedora"\n';
  const cases: Array<{ name: string; existing: string; targets: Array<typeof HUB>; expected: string; replaced?: string[] }> = [
    { name: 'no file', existing: '', targets: [HUB], expected: `${HUB_BLOCK}\n` },
    { name: 'comments only', existing: '# nothing yet\n', targets: [HUB], expected: `# nothing yet\n\n${HUB_BLOCK}\n` },
    { name: 'appended after other content', existing: other, targets: [HUB, LOCAL], expected: `${other}\n${HUB_BLOCK}\n\n${LOCAL_BLOCK}\n` },
    { name: 'no final newline', existing: 'a = 1', targets: [HUB], expected: `a = 1\n\n${HUB_BLOCK}\n` },
    { name: 'already merged: unchanged', existing: `${other}\n${HUB_BLOCK}\n`, targets: [HUB], expected: `${other}\n${HUB_BLOCK}\n` },
    {
      name: 'our block updated in place, tables after it kept',
      existing: `${other}\n${renderRegistryBlock(HUB, parseMirror('http://127.0.0.1:65001')).join('\n')}\n\n${aliases}`,
      targets: [HUB],
      expected: `${other}\n${HUB_BLOCK}\n\n${aliases}`,
    },
    {
      name: 'foreign table for the prefix replaced in place, its comment and the next table kept',
      existing: `${other}\n# hub via another mirror\n[[registry]]\nlocation = "docker.io"\n[[registry.mirror]]\nlocation = "mirror.gcr.io"\n\n# the aliases\n${aliases}`,
      targets: [HUB],
      expected: `${other}\n# hub via another mirror\n${HUB_BLOCK}\n\n# the aliases\n${aliases}`,
      replaced: ['docker.io'],
    },
    {
      name: 'foreign duplicate of our block removed',
      existing: `${HUB_BLOCK}\n\n[[registry]]\nprefix = "docker.io"\nlocation = "docker.io"\n\n[[registry]]\nprefix = "quay.io"\nlocation = "quay.io"\n`,
      targets: [HUB],
      expected: `${HUB_BLOCK}\n\n\n[[registry]]\nprefix = "quay.io"\nlocation = "quay.io"\n`,
    },
    { name: 'CRLF file stays CRLF', existing: 'a = 1\r\n', targets: [HUB], expected: `a = 1\r\n\r\n${HUB_BLOCK.replaceAll('\n', '\r\n')}\r\n` },
  ];
  for (const { name, existing, targets, expected, replaced = [] } of cases) {
    const merge = mergeRegistriesConf(existing, targets, MIRROR, FILE);
    assert.equal(merge.text, expected, name);
    assert.deepEqual(merge.replaced, replaced, name);
    const again = mergeRegistriesConf(merge.text, targets, MIRROR, FILE);
    assert.equal(again.text, merge.text, `${name}: second merge changes nothing`);
    assert.deepEqual(again.replaced, [], `${name}: second merge replaces nothing`);
    const prefixes = registries(merge.text).map((entry) => entry.prefix ?? entry.location);
    assert.equal(new Set(prefixes).size, prefixes.length, `${name}: no prefix twice`);
  }
});

test('files that cannot be merged are refused, naming the file (and the line)', () => {
  const cases: Array<[string, string, RegExp, number | undefined]> = [
    ['not TOML', 'a = 1\n[[registry]]\nprefix = "x"\nthis is not toml\n', /^\/etc\/containers\/registries\.conf:4:\d+: not valid TOML/, 4],
    ['unterminated string', 'unqualified-search-registries = ["docker.io]\n', /^\/etc\/containers\/registries\.conf:1:\d+: not valid TOML/, 1],
    ['v1 format', '[registries.search]\nregistries = ["docker.io"]\n', /registries\.conf: uses the v1 format/, undefined],
    ['inline registry array', 'registry = [{ prefix = "quay.io", location = "quay.io" }]\n', /inline registry arrays/, undefined],
    ['registry not an array', '[registry]\nprefix = "quay.io"\n', /must be an array of tables/, undefined],
    ['begin marker without end', `a = 1\n${HUB_BLOCK.split('\n').slice(0, -1).join('\n')}\n`, /registries\.conf:2: "# dfdaemon init-runtime: begin docker\.io" has no matching/, 2],
  ];
  for (const [name, existing, message, line] of cases) {
    assert.throws(
      () => mergeRegistriesConf(existing, [HUB], MIRROR, FILE),
      (error: unknown) => error instanceof InvalidConfigFileError && error.code === 'DF_ERR_RUNTIME_CONFIG_INVALID' && error.file === FILE && error.line === line && message.test(error.message),
      name,
    );
  }
});

test('a table whose extent cannot be told safely is refused rather than half replaced', () => {
  // A multi-line array whose second line looks like a table header: the table would be cut short.
  const existing = '[[registry]]\nprefix = "docker.io"\nlocation = "docker.io"\nx = [\n[1]\n]\n';
  assert.throws(() => mergeRegistriesConf(existing, [HUB], MIRROR, FILE), (error: unknown) => error instanceof InvalidConfigFileError && /cannot add the mirror without disturbing/.test(error.message));
});
