import { test } from 'vitest';
import assert from 'node:assert/strict';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { defaultStorageDir, parseDfgetArgs, type DfgetArgs } from '../dfget/args.ts';

const URL = 'https://example.com/dir/file.tar';
const ENV = { XDG_CACHE_HOME: '/cache' };
const CWD = '/srv/job';
const SHA256 = `sha256:${'ab'.repeat(32)}`;

function download(argv: string[], env: NodeJS.ProcessEnv = ENV): DfgetArgs {
  const command = parseDfgetArgs(argv, env, CWD);
  assert.equal(command.type, 'download');
  return (command as { args: DfgetArgs }).args;
}

test('defaults', () => {
  const args = download([URL, '-O', 'out.tar']);
  assert.deepEqual({ ...args }, {
    url: URL,
    output: '/srv/job/out.tar',
    digest: undefined,
    headers: {},
    pieceLength: undefined,
    timeoutMs: 2 * 60 * 60 * 1000,
    pieceTimeoutMs: 360_000,
    concurrentPieceCount: undefined,
    priority: 6,
    overwrite: false,
    fsync: false,
    tag: undefined,
    application: undefined,
    filteredQueryParams: undefined,
    progress: true,
    logLevel: 'warn',
    storageDir: '/cache/dragonfly/dfget',
    endpoint: '/var/run/dragonfly/dfdaemon.sock',
  });
  assert.ok(Object.isFrozen(args));
  assert.ok(Object.isFrozen(args.headers));
});

test('the storage dir falls back to ~/.cache without XDG_CACHE_HOME', () => {
  assert.equal(defaultStorageDir({}), join(homedir(), '.cache', 'dragonfly', 'dfget'));
  assert.equal(download([URL, '-O', 'x'], {}).storageDir, join(homedir(), '.cache', 'dragonfly', 'dfget'));
  assert.equal(download([URL, '-O', 'x'], { XDG_CACHE_HOME: '' }).storageDir, join(homedir(), '.cache', 'dragonfly', 'dfget'));
});

const FLAGS: ReadonlyArray<{ argv: string[]; expect: Partial<DfgetArgs> }> = [
  { argv: ['--output', '/abs/out'], expect: { output: '/abs/out' } },
  { argv: ['--digest', SHA256], expect: { digest: SHA256 } },
  { argv: ['--digest', 'crc32:0'], expect: { digest: 'crc32:0' } },
  { argv: ['--digest', `sha512:${'C'.repeat(128)}`], expect: { digest: `sha512:${'C'.repeat(128)}` } },
  { argv: ['-H', 'Authorization: Bearer a:b', '--header', 'X-Empty:'], expect: { headers: { Authorization: 'Bearer a:b', 'X-Empty': '' } } },
  { argv: ['-H', 'X-A: 1', '-H', 'X-A: 2'], expect: { headers: { 'X-A': '2' } } },
  { argv: ['--piece-length', '4MiB'], expect: { pieceLength: 4 * 1024 * 1024 } },
  { argv: ['--piece-length', '64MiB'], expect: { pieceLength: 64 * 1024 * 1024 } },
  { argv: ['--piece-length', '8388608'], expect: { pieceLength: 8 * 1024 * 1024 } },
  { argv: ['--timeout', '1m30s'], expect: { timeoutMs: 90_000 } },
  { argv: ['--piece-timeout', '500ms'], expect: { pieceTimeoutMs: 500 } },
  { argv: ['--concurrent-piece-count', '1'], expect: { concurrentPieceCount: 1 } },
  { argv: ['--concurrent-piece-count', '1024'], expect: { concurrentPieceCount: 1024 } },
  { argv: ['--overwrite'], expect: { overwrite: true } },
  { argv: ['--fsync'], expect: { fsync: true } },
  { argv: ['--tag', 'v1'], expect: { tag: 'v1' } },
  { argv: ['--application', 'app'], expect: { application: 'app' } },
  { argv: ['--filtered-query-param', 'sig', '--filtered-query-param', 'exp'], expect: { filteredQueryParams: ['sig', 'exp'] } },
  { argv: ['--storage-dir', 'store'], expect: { storageDir: '/srv/job/store' } },
  { argv: ['--storage-dir', '/var/store'], expect: { storageDir: '/var/store' } },
  { argv: ['-e', 'run/d.sock'], expect: { endpoint: '/srv/job/run/d.sock' } },
  { argv: ['--endpoint', '/run/df.sock'], expect: { endpoint: '/run/df.sock' } },
  { argv: ['--no-progress'], expect: { progress: false } },
  { argv: ['-l', 'debug'], expect: { logLevel: 'debug' } },
  { argv: ['--log-level', 'error'], expect: { logLevel: 'error' } },
];

for (const { argv, expect } of FLAGS) {
  test(`flag ${argv.join(' ')}`, () => {
    const args = download(['-O', 'out', URL, ...argv]);
    for (const [key, value] of Object.entries(expect)) {
      assert.deepEqual(args[key as keyof DfgetArgs], value, key);
    }
  });
}

test('--help and --version win over everything else', () => {
  assert.deepEqual(parseDfgetArgs(['--help'], ENV, CWD), { type: 'help' });
  assert.deepEqual(parseDfgetArgs(['-h', URL], ENV, CWD), { type: 'help' });
  assert.deepEqual(parseDfgetArgs(['-V'], ENV, CWD), { type: 'version' });
  assert.deepEqual(parseDfgetArgs(['--version', '--piece-length', '1'], ENV, CWD), { type: 'version' });
});

test('file:// URLs and a bare host are accepted', () => {
  assert.equal(download(['file:///tmp/a', '-O', 'x']).url, 'file:///tmp/a');
  assert.equal(download(['https://example.com', '-O', 'x']).url, 'https://example.com');
  assert.equal(download(['https://example.com/', '-O', 'x']).url, 'https://example.com/');
});

/** Each rejection: the argv and what the message must name. */
const REJECTIONS: ReadonlyArray<{ argv: string[]; names: RegExp }> = [
  { argv: [], names: /missing URL/ },
  { argv: ['-O', 'x'], names: /missing URL/ },
  { argv: [URL, URL, '-O', 'x'], names: /expected one URL, got 2/ },
  { argv: ['not-a-url', '-O', 'x'], names: /"not-a-url" is not a URL/ },
  { argv: ['https://example.com/dir/', '-O', 'x'], names: /ends with "\/"/ },
  { argv: [URL], names: /missing -O\/--output/ },
  { argv: [URL, '-O'], names: /-O, --output/ },
  { argv: [URL, '-O', 'x', '--frobnicate'], names: /--frobnicate/ },
  { argv: [URL, '-O', 'x', '--overwrite=yes'], names: /--overwrite/ },
  { argv: [URL, '-O', 'x', '--piece-length', '1MiB'], names: /--piece-length must be between 4MiB and 64MiB, got 1MiB/ },
  { argv: [URL, '-O', 'x', '--piece-length', '65MiB'], names: /--piece-length.*65MiB/ },
  { argv: [URL, '-O', 'x', '--piece-length', 'huge'], names: /--piece-length: .*huge/ },
  { argv: [URL, '-O', 'x', '--piece-length', '4XB'], names: /--piece-length: / },
  { argv: [URL, '-O', 'x', '--digest', `md5:${'0'.repeat(32)}`], names: /--digest: .*md5/ },
  { argv: [URL, '-O', 'x', '--digest', 'sha256:abc'], names: /--digest: .*64/ },
  { argv: [URL, '-O', 'x', '--digest', `sha256:${'g'.repeat(64)}`], names: /--digest: .*hexadecimal/ },
  { argv: [URL, '-O', 'x', '--digest', 'crc32:4294967296'], names: /--digest: / },
  { argv: [URL, '-O', 'x', '--digest', 'nocolon'], names: /--digest: / },
  { argv: [URL, '-O', 'x', '-H', 'NoColon'], names: /--header "NoColon"/ },
  { argv: [URL, '-O', 'x', '-H', ': value'], names: /--header/ },
  { argv: [URL, '-O', 'x', '-H', 'Bad Name: v'], names: /--header/ },
  { argv: [URL, '-O', 'x', '-H', 'range: bytes=0-1'], names: /--header: Range/ },
  { argv: [URL, '-O', 'x', '--timeout', 'abc'], names: /--timeout: invalid duration "abc"/ },
  { argv: [URL, '-O', 'x', '--timeout', '0s'], names: /--timeout must be more than 0/ },
  { argv: [URL, '-O', 'x', '--timeout', '10'], names: /--timeout: / },
  { argv: [URL, '-O', 'x', '--piece-timeout', '5y'], names: /--piece-timeout: / },
  { argv: [URL, '-O', 'x', '--piece-timeout', '0ms'], names: /--piece-timeout must be more than 0/ },
  { argv: [URL, '-O', 'x', '--concurrent-piece-count', '0'], names: /--concurrent-piece-count.*"0"/ },
  { argv: [URL, '-O', 'x', '--concurrent-piece-count', '1025'], names: /--concurrent-piece-count/ },
  { argv: [URL, '-O', 'x', '--concurrent-piece-count', '2.5'], names: /--concurrent-piece-count/ },
  { argv: [URL, '-O', 'x', '--concurrent-piece-count', '0x10'], names: /--concurrent-piece-count.*0x10/ },
  { argv: [URL, '-O', 'x', '--concurrent-piece-count', '1e2'], names: /--concurrent-piece-count/ },
  { argv: [URL, '-O', 'x', '--concurrent-piece-count', ''], names: /--concurrent-piece-count/ },
  { argv: [URL, '-O', 'x', '--priority', '7'], names: /--priority must be 0 to 6, got "7"/ },
  { argv: [URL, '-O', 'x', '--priority', 'high'], names: /--priority/ },
  { argv: [URL, '-O', 'x', '--log-level', 'loud'], names: /--log-level must be .*"loud"/ },
  { argv: [URL, '-O', 'x', '-l', 'WARN'], names: /--log-level/ },
];

for (const { argv, names } of REJECTIONS) {
  test(`rejects ${argv.join(' ') || '(nothing)'}`, () => {
    assert.throws(
      () => parseDfgetArgs(argv, ENV, CWD),
      (error: Error & { code?: string }) => {
        assert.equal(error.code, 'DF_ERR_USAGE');
        assert.equal(error.name, 'UsageError');
        assert.match(error.message, names);
        return true;
      },
    );
  });
}
