/**
 * `dfdaemon init-runtime` run as a user runs it (the real CLI in a child process) on temp dirs:
 * fresh files, merging into an existing registries.conf, backups, idempotent re-runs, refusals;
 * and skopeo reading the registries.conf we wrote and going to the mirror it names.
 */
import { test, type TestContext } from 'vitest';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { parse } from 'smol-toml';
import { closedPort, tempDir } from '../support/temp.ts';

const DFDAEMON_BIN = join(import.meta.dirname, '..', '..', 'daemon', 'bin', 'dfdaemon.ts');

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a command; killed (and the test failed) if it runs over 60 s. */
function run(command: string, args: readonly string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<Run> {
  const child = spawn(command, args, { cwd: options.cwd, env: { ...process.env, ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (text: string) => (stdout += text));
  child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${command} ${args.join(' ')} did not exit within 60 s; stderr:\n${stderr}`));
    }, 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** The real dfdaemon CLI, run in `cwd`. */
function dfdaemon(args: readonly string[], cwd: string): Promise<Run> {
  return run(process.execPath, [DFDAEMON_BIN, ...args], { cwd, env: { NODE_OPTIONS: '' } });
}

/** Every file under `dir`, relative, sorted. */
async function listFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name).slice(dir.length + 1))
    .sort();
}

const EXISTING_CONF = `# site registries
unqualified-search-registries = ["docker.io", "quay.io"]

[[registry]]
prefix = "quay.io"
location = "quay.io"

[aliases]
"fedora" = "registry.fedoraproject.org/fedora"
`;

async function setup(t: TestContext): Promise<{ dir: string; certs: string; conf: string; flags: string[] }> {
  const dir = await tempDir(t, 'df-init-runtime-');
  const certs = join(dir, 'certs.d');
  const conf = join(dir, 'containers', 'registries.conf');
  return { dir, certs, conf, flags: ['init-runtime', '--containerd-certs-dir', 'certs.d', '--registries-conf', 'containers/registries.conf'] };
}

test('fresh: hosts.toml per registry and a new registries.conf; a second run changes nothing', async (t) => {
  const { dir, certs, conf, flags } = await setup(t);
  const first = await dfdaemon([...flags, '-r', 'docker.io', '-r', 'http://127.0.0.1:5000', '-r', '_default'], dir);
  assert.equal(first.code, 0, first.stderr);
  assert.equal(first.stderr, '');
  const hub = join(certs, 'docker.io', 'hosts.toml');
  const local = join(certs, '127.0.0.1:5000', 'hosts.toml');
  const fallback = join(certs, '_default', 'hosts.toml');
  for (const path of [hub, local, fallback, conf]) assert.ok(first.stdout.includes(`created ${path}\n`), `${path} in:\n${first.stdout}`);
  assert.deepEqual(await listFiles(dir), ['certs.d/127.0.0.1:5000/hosts.toml', 'certs.d/_default/hosts.toml', 'certs.d/docker.io/hosts.toml', 'containers/registries.conf']);

  const hubToml = parse(await readFile(hub, 'utf8')) as { server: string; host: Record<string, { capabilities: string[]; header: Record<string, string> }> };
  assert.equal(hubToml.server, 'https://registry-1.docker.io');
  assert.deepEqual([...hubToml.host['http://127.0.0.1:4001']!.capabilities], ['pull', 'resolve']);
  assert.equal(hubToml.host['http://127.0.0.1:4001']!.header['X-Dragonfly-Registry'], 'https://index.docker.io');
  const localToml = parse(await readFile(local, 'utf8')) as typeof hubToml;
  assert.equal(localToml.server, 'http://127.0.0.1:5000');
  assert.equal(localToml.host['http://127.0.0.1:4001']!.header['X-Dragonfly-Registry'], 'http://127.0.0.1:5000');
  assert.equal((parse(await readFile(fallback, 'utf8')) as { server?: string }).server, undefined);

  const registries = (parse(await readFile(conf, 'utf8')) as { registry: Array<{ prefix: string; mirror: Array<{ location: string }> }> }).registry;
  assert.deepEqual(registries.map((entry) => [entry.prefix, entry.mirror[0]!.location]), [['docker.io', '127.0.0.1:4001'], ['127.0.0.1:5000', '127.0.0.1:4001']]);
  assert.match(first.stdout, /note: _default is containerd's/);

  const before = await Promise.all([hub, local, fallback, conf].map((path) => readFile(path, 'utf8')));
  const second = await dfdaemon([...flags, '-r', 'docker.io', '-r', 'http://127.0.0.1:5000', '-r', '_default'], dir);
  assert.equal(second.code, 0, second.stderr);
  for (const path of [hub, local, fallback, conf]) assert.ok(second.stdout.includes(`unchanged ${path}\n`), `${path} in:\n${second.stdout}`);
  assert.doesNotMatch(second.stdout, /created|updated/);
  assert.deepEqual(await Promise.all([hub, local, fallback, conf].map((path) => readFile(path, 'utf8'))), before);
  assert.equal((await listFiles(dir)).length, 4, 'no backup for an unchanged file');
});

test('existing registries.conf: other content kept, a backup made, re-run unchanged; a new mirror updates in place', async (t) => {
  const { dir, conf, flags } = await setup(t);
  await mkdir(join(dir, 'containers'));
  await writeFile(conf, EXISTING_CONF);
  const result = await dfdaemon([...flags, '--runtime', 'podman'], dir);
  assert.equal(result.code, 0, result.stderr);
  const backupLine = /^updated (.+) \(backup: (.+)\)$/m.exec(result.stdout);
  assert.ok(backupLine, result.stdout);
  assert.equal(backupLine[1], conf);
  assert.match(backupLine[2]!, /registries\.conf\.bak-\d{8}T\d{6}Z$/);
  assert.equal(await readFile(backupLine[2]!, 'utf8'), EXISTING_CONF);
  const merged = await readFile(conf, 'utf8');
  assert.ok(merged.startsWith(EXISTING_CONF), merged);
  const document = parse(merged) as { 'unqualified-search-registries': string[]; registry: Array<{ prefix: string }>; aliases: Record<string, string> };
  assert.deepEqual([...document['unqualified-search-registries']], ['docker.io', 'quay.io']);
  assert.deepEqual(document.registry.map((entry) => entry.prefix), ['quay.io', 'docker.io']);
  assert.equal(document.aliases.fedora, 'registry.fedoraproject.org/fedora');
  assert.deepEqual(await listFiles(join(dir, 'certs.d')).catch(() => []), [], '--runtime podman writes no containerd files');

  const again = await dfdaemon([...flags, '--runtime', 'podman'], dir);
  assert.equal(again.code, 0, again.stderr);
  assert.equal(again.stdout.split('\n')[0], `unchanged ${conf}`);
  assert.equal(await readFile(conf, 'utf8'), merged);
  assert.equal((await listFiles(join(dir, 'containers'))).length, 2, 'the file and one backup');

  const moved = await dfdaemon([...flags, '--runtime', 'crio', '--mirror', 'http://127.0.0.1:65001'], dir);
  assert.equal(moved.code, 0, moved.stderr);
  assert.match(moved.stdout, /^updated .+registries\.conf \(backup: .+\)$/m);
  const updated = await readFile(conf, 'utf8');
  assert.ok(updated.startsWith(EXISTING_CONF));
  assert.equal(updated.split('[[registry.mirror]]').length, 2, 'still one mirror table');
  assert.match(updated, /location = "127\.0\.0\.1:65001"/);
});

test('invalid registries.conf: refused naming file and line, nothing written', async (t) => {
  const { dir, conf, flags } = await setup(t);
  await mkdir(join(dir, 'containers'));
  await writeFile(conf, 'unqualified-search-registries = ["docker.io"]\n[[registry]]\nprefix = quay.io\n');
  const result = await dfdaemon([...flags, '--runtime', 'all'], dir);
  assert.equal(result.code, 1);
  assert.match(result.stderr, new RegExp(`^dfdaemon init-runtime: error: ${conf.replace(/[.]/g, '\\.')}:3:\\d+: not valid TOML`));
  assert.doesNotMatch(result.stderr, /\n\s+at /, 'no stack trace');
  assert.equal(result.stdout, '');
  assert.deepEqual(await listFiles(dir), ['containers/registries.conf'], 'no hosts.toml either: every file is planned before any is written');
});

test('dry run prints what would change and writes nothing', async (t) => {
  const { dir, conf, flags } = await setup(t);
  const result = await dfdaemon([...flags, '--dry-run'], dir);
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, /^would create .+\/certs\.d\/docker\.io\/hosts\.toml:\n {4}# Written by dfdaemon init-runtime/m);
  assert.ok(result.stdout.includes(`would create ${conf}:\n    # dfdaemon init-runtime: begin docker.io\n`), result.stdout);
  assert.match(result.stdout, /dry run: nothing was written\n$/);
  assert.deepEqual(await listFiles(dir), []);

  // Without --runtime, naming one file means that runtime only (dry run: a regression must not touch the system's containerd).
  const onlyConf = await dfdaemon(['init-runtime', '--registries-conf', 'containers/registries.conf', '--dry-run'], dir);
  assert.equal(onlyConf.code, 0, onlyConf.stderr);
  assert.deepEqual(onlyConf.stdout.split('\n').filter((line) => line.startsWith('would ')), [`would create ${conf}:`]);
  assert.doesNotMatch(onlyConf.stdout, /hosts\.toml|containerd/);
});

test('bad flags and unusable paths: exit 1 with one clear line', async (t) => {
  const { dir } = await setup(t);
  await writeFile(join(dir, 'plain-file'), 'x');
  const cases: Array<[string[], RegExp]> = [
    [['--runtime', 'rkt'], /^dfdaemon init-runtime: error: --runtime rkt: expected one of containerd, crio, podman, all \(see dfdaemon init-runtime --help\)\n$/],
    [['--registry', 'docker.io/library/alpine'], /^dfdaemon init-runtime: error: --registry docker\.io\/library\/alpine: expected a registry host/],
    [['--mirror', '127.0.0.1:4001'], /^dfdaemon init-runtime: error: --mirror 127\.0\.0\.1:4001: not a URL/],
    [['--bogus'], /^dfdaemon init-runtime: error: Unknown option '--bogus' \(see dfdaemon init-runtime --help\)\n$/],
    [['--runtime', 'crio', '--registries-conf', 'plain-file/registries.conf'], /^dfdaemon init-runtime: error: cannot read .+plain-file\/registries\.conf: a part of the path is not a directory\n$/],
  ];
  for (const [argv, message] of cases) {
    const result = await dfdaemon(['init-runtime', ...argv], dir);
    assert.equal(result.code, 1, argv.join(' '));
    assert.match(result.stderr, message, argv.join(' '));
    assert.equal(result.stdout, '', argv.join(' '));
  }
  assert.deepEqual(await listFiles(dir), ['plain-file']);
});

test('help: init-runtime --help documents the flags; dfdaemon --help names the subcommand', async (t) => {
  const { dir } = await setup(t);
  const help = await dfdaemon(['init-runtime', '--help'], dir);
  assert.equal(help.code, 0);
  for (const flag of ['--registry', '--mirror', '--runtime', '--containerd-certs-dir', '--registries-conf', '--plain-http', '--dry-run', '.bak-']) assert.ok(help.stdout.includes(flag), flag);
  const top = await dfdaemon(['--help'], dir);
  assert.equal(top.code, 0);
  assert.match(top.stderr, /dfdaemon init-runtime \[options\]/);
});

const hasSkopeo = spawnSync('skopeo', ['--version'], { stdio: 'ignore' }).status === 0;

test('skopeo reads the registries.conf we wrote and goes to the mirror first', async (t) => {
  if (!hasSkopeo) t.skip('skopeo is not installed');
  const home = await tempDir(t, 'df-init-runtime-home-');
  const conf = join(home, '.config', 'containers', 'registries.conf');
  await mkdir(join(home, '.config', 'containers'), { recursive: true });
  await writeFile(conf, EXISTING_CONF);
  const seen: string[] = [];
  const mirror = createServer((request, response) => {
    seen.push(`${request.method} ${request.url}`);
    response.setHeader('Docker-Distribution-API-Version', 'registry/2.0');
    if (request.url === '/v2/') response.end('{}');
    else response.writeHead(404, { 'content-type': 'application/json' }).end('{"errors":[{"code":"MANIFEST_UNKNOWN","message":"unknown"}]}');
  });
  await new Promise<void>((resolve) => mirror.listen(0, '127.0.0.1', resolve));
  t.onTestFinished(() => new Promise<void>((resolve) => mirror.close(() => resolve())));
  const mirrorPort = (mirror.address() as { port: number }).port;
  const deadRegistry = `127.0.0.1:${await closedPort()}`;

  const result = await dfdaemon(['init-runtime', '--runtime', 'podman', '--registries-conf', conf, '--registry', `http://${deadRegistry}`, '--mirror', `http://127.0.0.1:${mirrorPort}`], home);
  assert.equal(result.code, 0, result.stderr);

  // Asynchronously: the mirror above answers from this process's event loop.
  const skopeo = await run('skopeo', ['inspect', '--retry-times', '0', `docker://${deadRegistry}/test/img:1`], { env: { HOME: home } });
  assert.notEqual(skopeo.code, 0, 'nothing serves the image');
  assert.doesNotMatch(skopeo.stderr, /registries configuration|toml/i, 'the config parsed');
  assert.match(skopeo.stderr, /Mirrors also failed/);
  assert.ok(seen.includes('GET /v2/'), `the mirror was asked first: ${seen.join(', ')}`);
  assert.ok(seen.some((line) => line.startsWith('GET /v2/test/img/manifests/1')), seen.join(', '));
});
