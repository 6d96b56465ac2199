/** dfget refuses bad flags as a user sees it: exit 1, one line naming the flag, no stack, nothing fetched. */
import { test } from 'vitest';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { dfget, errorLines, STACK_FRAME } from '../support/cli.ts';
import { Origin } from '../support/origin.ts';
import { tempDir } from '../support/temp.ts';

const CASES: ReadonlyArray<{ name: string; args: (url: string, out: string) => string[]; names: RegExp }> = [
  { name: 'a piece length under 4MiB', args: (u, o) => [u, '-O', o, '--piece-length', '1MiB'], names: /--piece-length.*1MiB/ },
  { name: 'a piece length that is not a size', args: (u, o) => [u, '-O', o, '--piece-length', 'big'], names: /--piece-length/ },
  { name: 'an md5 digest', args: (u, o) => [u, '-O', o, '--digest', `md5:${'0'.repeat(32)}`], names: /--digest.*md5/ },
  { name: 'a short sha256 digest', args: (u, o) => [u, '-O', o, '--digest', 'sha256:abc'], names: /--digest/ },
  { name: 'a timeout that is not a duration', args: (u, o) => [u, '-O', o, '--timeout', 'abc'], names: /--timeout.*abc/ },
  { name: 'a piece timeout of zero', args: (u, o) => [u, '-O', o, '--piece-timeout', '0s'], names: /--piece-timeout/ },
  { name: 'an unknown flag', args: (u, o) => [u, '-O', o, '--frobnicate'], names: /--frobnicate/ },
  { name: 'a missing -O', args: (u) => [u], names: /-O\/--output/ },
  { name: 'a log level that does not exist', args: (u, o) => [u, '-O', o, '--log-level', 'loud'], names: /--log-level.*loud/ },
  { name: 'a concurrent piece count of 0', args: (u, o) => [u, '-O', o, '--concurrent-piece-count', '0'], names: /--concurrent-piece-count/ },
  { name: 'a header without a colon', args: (u, o) => [u, '-O', o, '-H', 'NoColon'], names: /--header/ },
  { name: 'a Range header', args: (u, o) => [u, '-O', o, '-H', 'Range: bytes=0-1'], names: /--header.*Range/ },
  { name: 'no URL', args: (_u, o) => ['-O', o], names: /missing URL/ },
  { name: 'something that is not a URL', args: (_u, o) => ['not a url', '-O', o], names: /"not a url" is not a URL/ },
];

test('bad flags: exit 1 and one line naming the flag', async (t) => {
  const dir = await tempDir(t, 'df-flags-');
  const origin = await Origin.start();
  t.onTestFinished(() => origin.close());
  const out = join(dir, 'out.bin');
  // Each run is a separate process; running them side by side keeps the file quick.
  const results = await Promise.all(CASES.map((c) => dfget(c.args(origin.url(), out), { cacheHome: join(dir, 'cache') })));
  CASES.forEach((c, i) => {
    const result = results[i]!;
    assert.equal(result.code, 1, `${c.name}: exit code; stderr:\n${result.stderr}`);
    assert.doesNotMatch(result.stderr, STACK_FRAME, c.name);
    const lines = errorLines(result.stderr);
    assert.equal(lines.length, 1, `${c.name}: ${result.stderr}`);
    assert.match(lines[0]!, c.names, c.name);
    assert.match(result.stderr, /see dfget --help/, c.name);
  });
  assert.equal(origin.log.length, 0, 'no bad command reached the origin');
});
