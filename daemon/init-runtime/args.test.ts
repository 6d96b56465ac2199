/** init-runtime flags: defaults, runtimes, paths, and bad flags named in the error. */
import { test } from 'vitest';
import assert from 'node:assert/strict';
import { parseInitRuntimeArgs, type InitRuntimeArgs } from './args.ts';

function run(argv: string[]): InitRuntimeArgs {
  const parsed = parseInitRuntimeArgs(argv, '/srv/node');
  assert.equal(parsed.type, 'run');
  return (parsed as { args: InitRuntimeArgs }).args;
}

test('defaults: docker.io through http://127.0.0.1:4001, runtimes detected, standard paths', () => {
  const args = run([]);
  assert.deepEqual(args.registries.map((registry) => registry.host), ['docker.io']);
  assert.equal(args.mirror.origin, 'http://127.0.0.1:4001');
  assert.equal(args.containerdCertsDir, '/etc/containerd/certs.d');
  assert.equal(args.registriesConf, '/etc/containers/registries.conf');
  assert.equal(args.runtimes, undefined);
  assert.deepEqual(args.given, { containerdCertsDir: false, registriesConf: false });
  assert.equal(args.dryRun, false);
  assert.ok(Object.isFrozen(args));
});

test('flags', () => {
  const cases: Array<[string[], Partial<Record<keyof InitRuntimeArgs, unknown>>]> = [
    [['--runtime', 'all'], { runtimes: ['containerd', 'crio', 'podman'] }],
    [['--runtime', 'podman,containerd'], { runtimes: ['podman', 'containerd'] }],
    [['--runtime', 'cri-o', '--runtime', 'crio'], { runtimes: ['crio'] }],
    [['--containerd-certs-dir', 'certs'], { containerdCertsDir: '/srv/node/certs', given: { containerdCertsDir: true, registriesConf: false } }],
    [['--registries-conf', '/tmp/r.conf'], { registriesConf: '/tmp/r.conf', given: { containerdCertsDir: false, registriesConf: true } }],
    [['--dry-run'], { dryRun: true }],
  ];
  for (const [argv, expected] of cases) {
    const args = run(argv);
    for (const [key, value] of Object.entries(expected)) assert.deepEqual(args[key as keyof InitRuntimeArgs], value, `${argv.join(' ')}: ${key}`);
  }
});

test('registries: repeatable, deduplicated, --plain-http for those without a scheme', () => {
  const args = run(['-r', 'docker.io', '--registry', '127.0.0.1:5000', '-r', 'https://ghcr.io', '-r', '127.0.0.1:5000', '--plain-http', '-r', '_default']);
  assert.deepEqual(
    args.registries.map((registry) => [registry.host, registry.server]),
    [
      ['docker.io', 'https://registry-1.docker.io'],
      ['127.0.0.1:5000', 'http://127.0.0.1:5000'],
      ['ghcr.io', 'https://ghcr.io'],
      ['_default', undefined],
    ],
  );
});

test('help', () => {
  assert.deepEqual(parseInitRuntimeArgs(['--help'], '/'), { type: 'help' });
  assert.deepEqual(parseInitRuntimeArgs(['-h', '--registry', 'x y'], '/'), { type: 'help' });
});

test('bad flags: usage errors that name the flag', () => {
  const cases: Array<[string[], RegExp]> = [
    [['--runtime', 'docker'], /--runtime docker: not supported/],
    [['--runtime', 'rkt'], /--runtime rkt: expected one of containerd, crio, podman, all/],
    [['--registry', 'docker.io/library'], /--registry docker\.io\/library: expected a registry host/],
    [['--registry', 'http://127.0.0.1:5000', '--registry', 'https://127.0.0.1:5000'], /127\.0\.0\.1:5000: given both as http and https/],
    [['--mirror', 'localhost:4001'], /--mirror localhost:4001/],
    [['--containerd-certs-dir', ''], /--containerd-certs-dir: empty path/],
    [['--frobnicate'], /Unknown option '--frobnicate'$/],
    [['--registry'], /--registry/],
    [['extra'], /Unexpected argument 'extra'/],
  ];
  for (const [argv, message] of cases) {
    assert.throws(
      () => parseInitRuntimeArgs(argv, '/'),
      (error: Error & { code?: string }) => error.name === 'UsageError' && error.code === 'DF_ERR_USAGE' && message.test(error.message),
      argv.join(' '),
    );
  }
});
