import { describe, test } from 'vitest';
import assert from 'node:assert/strict';
import {
  bestCluster,
  checkScopes,
  parseIp,
  parsePrefix,
  scoreCluster,
  SCOPE_WEIGHTS,
  type ClusterScopes,
  type ScopeHost,
  type ScopedCluster,
} from '../../manager/index.ts';

const HOST: ScopeHost = { hostname: 'node-a1.hz.example.com', ip: '10.1.2.3', idc: 'hz-1', location: 'cn|zj|hz|xh|r7' };

function score(scopes: ClusterScopes, host: Partial<ScopeHost> = {}, isDefault = false): number {
  return scoreCluster({ ...HOST, ...host }, { id: 1, isDefault, scopes });
}

function near(actual: number, expected: number, label: string): void {
  assert.ok(Math.abs(actual - expected) < 1e-9, `${label}: ${actual} != ${expected}`);
}

describe('parseIp / parsePrefix', () => {
  test('table of addresses', () => {
    const cases: Array<[string, { family: 4 | 6; value: bigint } | undefined]> = [
      ['10.1.2.3', { family: 4, value: 0x0a010203n }],
      ['0.0.0.0', { family: 4, value: 0n }],
      ['255.255.255.255', { family: 4, value: 0xffffffffn }],
      ['::ffff:10.1.2.3', { family: 4, value: 0x0a010203n }],
      ['::ffff:a01:203', { family: 4, value: 0x0a010203n }],
      ['::1', { family: 6, value: 1n }],
      ['::', { family: 6, value: 0n }],
      ['2001:db8::1', { family: 6, value: 0x20010db8000000000000000000000001n }],
      ['2001:DB8:0:0:0:0:0:1', { family: 6, value: 0x20010db8000000000000000000000001n }],
      ['1:2:3:4:5:6:7:8', { family: 6, value: 0x00010002000300040005000600070008n }],
      ['64:ff9b::1.2.3.4', { family: 6, value: 0x0064ff9b000000000000000001020304n }],
      ['256.0.0.1', undefined],
      ['01.2.3.4', undefined],
      ['1.2.3', undefined],
      ['1::2::3', undefined],
      ['1:2:3:4:5:6:7:8:9', undefined],
      ['1:2:3:4:5:6:7', undefined],
      ['12345::', undefined],
      ['fe80::1%eth0', undefined],
      ['', undefined],
      ['node-a1', undefined],
    ];
    for (const [text, want] of cases) assert.deepEqual(parseIp(text), want, text);
  });

  test('table of prefixes', () => {
    const cases: Array<[string, boolean]> = [
      ['10.0.0.0/8', true],
      ['10.1.2.3/8', true],
      ['0.0.0.0/0', true],
      ['10.0.0.0/32', true],
      ['10.0.0.0/33', false],
      ['2001:db8::/32', true],
      ['::/0', true],
      ['2001:db8::/129', false],
      ['10.0.0.0', false],
      ['10.0.0.0/', false],
      ['10.0.0.0/08', false],
      ['10.0.0/8', false],
      ['fe80::%eth0/64', false],
    ];
    for (const [text, ok] of cases) assert.equal(parsePrefix(text) !== undefined, ok, text);
  });
});

describe('scoreCluster: one rule at a time', () => {
  test('CIDR: 0.3 when the host ip is in any prefix, IPv4 and IPv6', () => {
    const cases: Array<[readonly string[], string, number]> = [
      [['10.0.0.0/8'], '10.1.2.3', 0.3],
      [['192.168.0.0/16', '10.1.2.0/24'], '10.1.2.3', 0.3],
      [['10.1.2.3/32'], '10.1.2.3', 0.3],
      [['10.1.2.4/32'], '10.1.2.3', 0],
      [['11.0.0.0/8'], '10.1.2.3', 0],
      [['0.0.0.0/0'], '10.1.2.3', 0.3],
      [['10.0.0.0/8'], '::ffff:10.1.2.3', 0.3],
      [['2001:db8::/32'], '2001:db8:1::7', 0.3],
      [['2001:db8::/32'], '2001:db9::7', 0],
      [['2001:db8:0:1::/64'], '2001:db8:0:1:ffff::1', 0.3],
      [['::/0'], '10.1.2.3', 0],
      [['0.0.0.0/0'], '2001:db8::1', 0],
      [['10.0.0.0/8'], 'not-an-ip', 0],
      [['10.0.0.0/8'], '', 0],
      [[], '10.1.2.3', 0],
    ];
    for (const [cidrs, ip, want] of cases) near(score({ cidrs }, { ip }), want, `${cidrs.join()} ${ip}`);
  });

  test('hostname: 0.3 when any pattern matches, unanchored as Go regexp', () => {
    const cases: Array<[readonly string[], string, number]> = [
      [['^node-a1\\.hz\\.example\\.com$'], 'node-a1.hz.example.com', 0.3],
      [['hz'], 'node-a1.hz.example.com', 0.3],
      [['^node-b', 'example\\.com$'], 'node-a1.hz.example.com', 0.3],
      [['^node-b'], 'node-a1.hz.example.com', 0],
      [['NODE'], 'node-a1', 0],
      [['(?i)NODE'], 'node-a1', 0.3],
      [['.*'], '', 0],
      [[], 'node-a1', 0],
    ];
    for (const [hostnames, hostname, want] of cases) near(score({ hostnames }, { hostname }), want, `${hostnames.join()} ${hostname}`);
  });

  test('IDC: 0.25 when the host idc equals any |-separated element, case-insensitive', () => {
    const cases: Array<[string, string, number]> = [
      ['hz-1', 'hz-1', 0.25],
      ['HZ-1', 'hz-1', 0.25],
      ['sh-1|hz-1', 'hz-1', 0.25],
      ['hz-1|sh-1|bj-2', 'bj-2', 0.25],
      ['hz-1|sh-1', 'hz-1|sh-1', 0.25],
      ['hz-2', 'hz-1', 0],
      ['hz', 'hz-1', 0],
      ['sh-1|hz-1', 'hz', 0],
      ['', 'hz-1', 0],
      ['hz-1', '', 0],
      ['hz-1|', '', 0],
    ];
    for (const [idc, hostIdc, want] of cases) near(score({ idc }, { idc: hostIdc }), want, `${idc} / ${hostIdc}`);
  });

  test('location: 0.14/5 per matching leading level, at most 5; the same string counts all', () => {
    const level = SCOPE_WEIGHTS.location / 5;
    const cases: Array<[string, string, number]> = [
      ['cn|zj|hz|xh|r7', 'cn|zj|hz|xh|r7', 0.14],
      ['CN|zj', 'cn|ZJ', 0.14],
      ['cn', 'cn', 0.14],
      ['cn', 'cn|zj|hz', level],
      ['cn|zj', 'cn|zj|hz', 2 * level],
      ['cn|zj|hz', 'cn|zj', 2 * level],
      ['cn|zj|sh', 'cn|zj|hz', 2 * level],
      ['cn|js|hz', 'cn|zj|hz', level],
      ['us|zj|hz', 'cn|zj|hz', 0],
      ['a|b|c|d|e|f', 'a|b|c|d|e|g', 5 * level],
      ['a|b|c|d|e|f|g', 'a|b|c|d|e|f|h', 5 * level],
      ['', 'cn', 0],
      ['cn', '', 0],
    ];
    for (const [location, hostLocation, want] of cases) {
      near(score({ location }, { location: hostLocation }), want, `${location} / ${hostLocation}`);
    }
  });

  test('default cluster: 0.01', () => {
    near(score({}, {}, true), 0.01, 'default, no scopes');
    near(score({}, {}, false), 0, 'not default, no scopes');
  });

  test('rules add up; everything matching scores 1', () => {
    const all: ClusterScopes = { cidrs: ['10.0.0.0/8'], hostnames: ['^node-'], idc: 'hz-1', location: 'cn|zj|hz|xh|r7' };
    near(score(all, {}, true), 1, 'all');
    near(score({ cidrs: ['10.0.0.0/8'], idc: 'hz-1' }), 0.55, 'cidr + idc');
    near(score({ hostnames: ['hz'], location: 'cn|zj' }), 0.3 + 0.056, 'hostname + 2 levels');
  });
});

describe('bestCluster', () => {
  const clusters: ScopedCluster[] = [
    { id: 1, isDefault: true, scopes: {} },
    { id: 2, scopes: { idc: 'sh-1', location: 'cn|sh' } },
    { id: 3, scopes: { idc: 'hz-1|hz-2', location: 'cn|zj' } },
    { id: 4, scopes: { cidrs: ['10.1.0.0/16'] } },
  ];

  test('table: highest score wins, default catches the rest, no match gives none', () => {
    const cases: Array<[string, Partial<ScopeHost>, readonly ScopedCluster[], number | undefined]> = [
      ['idc + two location levels (0.306) beat a CIDR (0.3)', { ip: '10.1.9.9' }, clusters, 3],
      ['cidr alone', { ip: '10.1.9.9', idc: '', location: '' }, clusters, 4],
      ['idc elsewhere', { ip: '192.168.1.1', idc: 'sh-1', location: 'cn|sh|pd' }, clusters, 2],
      ['nothing matches: the default', { ip: '192.168.1.1', idc: 'bj-1', location: 'us' }, clusters, 1],
      ['nothing matches, no default: none', { ip: '192.168.1.1', idc: 'bj-1', location: 'us' }, clusters.slice(1), undefined],
      ['a country in common beats the default', { ip: '192.168.1.1', idc: 'bj-1', location: 'cn|bj' }, [clusters[0]!, clusters[2]!], 3],
      ['empty list', {}, [], undefined],
    ];
    for (const [label, host, list, want] of cases) assert.equal(bestCluster({ ...HOST, ...host }, list)?.id, want, label);
  });

  test('equal scores go to the lower id, whatever the order', () => {
    const a: ScopedCluster = { id: 7, scopes: { hostnames: ['^node-'] } };
    const b: ScopedCluster = { id: 5, scopes: { cidrs: ['10.0.0.0/8'] } };
    const c: ScopedCluster = { id: 9, scopes: { hostnames: ['example'] } };
    assert.equal(bestCluster(HOST, [a, b, c])?.id, 5);
    assert.equal(bestCluster(HOST, [c, a, b])?.id, 5);
    assert.equal(bestCluster(HOST, [c, a])?.id, 7);
  });

  test('a pinned host gets exactly its cluster or none, never another', () => {
    const cases: Array<[number | undefined, number | undefined]> = [
      [2, 2],
      [1, 1],
      [99, undefined],
      [0, 3],
      [undefined, 3],
    ];
    for (const [pinnedClusterId, want] of cases) {
      assert.equal(bestCluster(HOST, clusters, { pinnedClusterId })?.id, want, `pinned ${pinnedClusterId}`);
    }
  });

  test('bad elements stored before validation are skipped at match time, never thrown', () => {
    const stored: ScopedCluster[] = [
      { id: 1, scopes: { hostnames: ['([', '^node-'], cidrs: ['10.0.0.0/33', 'x'] } },
      { id: 2, scopes: { cidrs: ['nonsense', '10.0.0.0/8'] } },
      { id: 3, scopes: { hostnames: 'node' as unknown as string[], cidrs: [42 as unknown as string] } },
    ];
    near(scoreCluster(HOST, stored[0]!), 0.3, 'hostname only');
    near(scoreCluster(HOST, stored[1]!), 0.3, 'cidr only');
    near(scoreCluster(HOST, stored[2]!), 0, 'wrong shapes');
    assert.equal(bestCluster(HOST, stored)?.id, 1);
  });
});

describe('checkScopes', () => {
  test('accepts and freezes valid scopes', () => {
    const cases: Array<[unknown, ClusterScopes]> = [
      [undefined, {}],
      [null, {}],
      [{}, {}],
      [{ idc: 'hz-1|hz-2', location: 'cn|zj', cidrs: ['10.0.0.0/8', '2001:db8::/32'], hostnames: ['^node-', '(?i)gpu'] },
        { idc: 'hz-1|hz-2', location: 'cn|zj', cidrs: ['10.0.0.0/8', '2001:db8::/32'], hostnames: ['^node-', '(?i)gpu'] }],
      [{ cidrs: [], hostnames: null }, {}],
    ];
    for (const [input, want] of cases) {
      const scopes = checkScopes(input);
      assert.deepEqual(scopes, want, JSON.stringify(input));
      assert.ok(Object.isFrozen(scopes));
    }
  });

  test('names the bad element', () => {
    const cases: Array<[unknown, string]> = [
      [{ cidrs: ['10.0.0.0/8', '10.0.0.0/33'] }, 'scopes.cidrs[1]'],
      [{ cidrs: ['fe80::/10', '10.0.0.1'] }, 'scopes.cidrs[1]'],
      [{ cidrs: '10.0.0.0/8' }, 'scopes.cidrs'],
      [{ cidrs: [8] }, 'scopes.cidrs[0]'],
      [{ hostnames: ['ok', '(['] }, 'scopes.hostnames[1]'],
      [{ hostnames: ['a{2,1}'] }, 'scopes.hostnames[0]'],
      [{ idc: 5 }, 'scopes.idc'],
      [{ location: ['cn'] }, 'scopes.location'],
      [{ cidr: ['10.0.0.0/8'] }, 'scopes.cidr'],
      [[], 'scopes'],
      ['idc', 'scopes'],
    ];
    for (const [input, path] of cases) {
      assert.throws(
        () => checkScopes(input),
        (error: unknown) => {
          assert.equal((error as { code?: string }).code, 'DF_ERR_INVALID_ARGUMENT');
          assert.ok((error as Error).message.startsWith(`${path}:`), `${(error as Error).message} should name ${path}`);
          return true;
        },
        JSON.stringify(input),
      );
    }
  });
});
