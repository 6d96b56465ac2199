import { test } from 'vitest';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { canonicalTaskUrl, hostIdOf, isTaskId, peerIdOf, pieceIdOf, taskIdOf } from '../index.ts';

test('task id matches Dragonfly vector (tag foo, application bar)', () => {
  assert.equal(
    taskIdOf({ url: 'https://example.com', tag: 'foo', application: 'bar' }),
    '06408fbf247ddaca478f8cb9565fe5591c28efd0994b8fea80a6a87d3203c5ca',
  );
});

test('task id matches Dragonfly vector with revision and piece length', () => {
  const id = taskIdOf({ url: 'https://example.com', tag: 'foo', application: 'bar', revision: 'v1.0', pieceLength: 1024 });
  assert.ok(id.startsWith('5844f27a') && id.endsWith('b25f'), id);
});

test('task id is sha256 of the concatenated parts, skipping absent ones', () => {
  const cases: Array<[Parameters<typeof taskIdOf>[0], string]> = [
    [{ url: 'http://h/f' }, 'http://h/fSTANDARD'],
    [{ url: 'http://h/f', tag: 't' }, 'http://h/ftSTANDARD'],
    [{ url: 'http://h/f', application: 'a' }, 'http://h/faSTANDARD'],
    [{ url: 'http://h/f', pieceLength: 4194304 }, 'http://h/f4194304STANDARD'],
    [{ url: 'http://h/f', tag: '', application: '' }, 'http://h/fSTANDARD'],
  ];
  for (const [input, preimage] of cases) {
    assert.equal(taskIdOf(input), createHash('sha256').update(preimage).digest('hex'), JSON.stringify(input));
  }
});

test('canonical URL: filtered params removed, keys sorted, query dropped when empty', () => {
  const cases: Array<[string, string]> = [
    ['https://example.com/', 'https://example.com'],
    ['https://example.com', 'https://example.com'],
    ['https://example.com/a/', 'https://example.com/a/'],
    ['http://h/f?b=2&a=1', 'http://h/f?a=1&b=2'],
    ['http://h/f?b=2&a=1&b=0', 'http://h/f?a=1&b=2&b=0'],
    ['http://h/f?X-Amz-Signature=abc&X-Amz-Date=1', 'http://h/f'],
    ['http://h/f?ns=docker.io&digest=x', 'http://h/f?digest=x'],
    ['http://h/f?q-sign-time=1&Expires=9&keep=yes', 'http://h/f?keep=yes'],
    ['http://h/f?a=hello world&b=%2F', 'http://h/f?a=hello+world&b=%2F'],
    ['http://h:80/f?z=1', 'http://h/f?z=1'],
  ];
  for (const [input, want] of cases) assert.equal(canonicalTaskUrl(input), want, input);
});

test('presigned URLs with different signatures are one task', () => {
  const a = taskIdOf({ url: 'https://bucket.s3/obj?X-Amz-Signature=aaa&X-Amz-Expires=60&v=1' });
  const b = taskIdOf({ url: 'https://bucket.s3/obj?v=1&X-Amz-Signature=bbb&X-Amz-Expires=30' });
  assert.equal(a, b);
  assert.notEqual(a, taskIdOf({ url: 'https://bucket.s3/obj?v=2' }));
});

test('custom filter list and empty list', () => {
  assert.equal(canonicalTaskUrl('http://h/f?sig=1&x=2', ['sig']), 'http://h/f?x=2');
  assert.equal(canonicalTaskUrl('http://h/f?b=1&a=2', []), 'http://h/f?b=1&a=2');
});

test('different piece lengths make different tasks', () => {
  assert.notEqual(taskIdOf({ url: 'http://h/f', pieceLength: 4 << 20 }), taskIdOf({ url: 'http://h/f', pieceLength: 8 << 20 }));
});

test('invalid URL fails with a code', () => {
  assert.throws(() => taskIdOf({ url: 'not a url' }), { code: 'DF_ERR_INVALID_URL' });
});

test('host, peer, piece ids and task id validation', () => {
  assert.equal(hostIdOf('10.0.0.1', 'node-a'), '10.0.0.1-node-a');
  assert.equal(hostIdOf('10.0.0.1', 'node-a', true), '10.0.0.1-node-a-seed');
  assert.match(peerIdOf('10.0.0.1', 'node-a'), /^10\.0\.0\.1-node-a-[0-9a-f-]{36}$/);
  assert.match(peerIdOf('10.0.0.1', 'node-a', true), /-seed$/);
  assert.notEqual(peerIdOf('1.1.1.1', 'x'), peerIdOf('1.1.1.1', 'x'));
  const id = taskIdOf({ url: 'http://h/f' });
  assert.equal(pieceIdOf(id, 3), `${id}-3`);
  assert.ok(isTaskId(id));
  for (const bad of ['', '../etc/passwd', id.toUpperCase(), `${id}0`, id.slice(1)]) assert.equal(isTaskId(bad), false, bad);
});

test('the task id of an OCI blob is its sha256 hex when asked, whatever the registry or repository', () => {
  const hex = 'a'.repeat(63) + 'b';
  const a = taskIdOf({ url: `https://registry-1.docker.io/v2/library/alpine/blobs/sha256:${hex}`, enableTaskIdBasedBlobDigest: true });
  const b = taskIdOf({ url: `http://127.0.0.1:5000/v2/mirror/alpine/blobs/sha256:${hex}?ns=docker.io`, enableTaskIdBasedBlobDigest: true });
  assert.equal(a, hex);
  assert.equal(b, hex);
  // Without the flag, or for a URL that is not a blob, the URL rule applies.
  assert.notEqual(taskIdOf({ url: `https://registry-1.docker.io/v2/library/alpine/blobs/sha256:${hex}` }), hex);
  const manifest = `https://r.example/v2/x/manifests/sha256:${hex}`;
  assert.equal(taskIdOf({ url: manifest, enableTaskIdBasedBlobDigest: true }), taskIdOf({ url: manifest }));
  // A sha512 digest is not a task id: the URL rule applies.
  const sha512 = `https://r.example/v2/x/blobs/sha512:${'c'.repeat(128)}`;
  assert.equal(taskIdOf({ url: sha512, enableTaskIdBasedBlobDigest: true }), taskIdOf({ url: sha512 }));
});

test('content for calculating the task id wins over every other rule', () => {
  const expected = createHash('sha256').update('my-content').digest('hex');
  assert.equal(taskIdOf({ url: 'https://a.example/x', tag: 't', contentForCalculatingTaskId: 'my-content', enableTaskIdBasedBlobDigest: true }), expected);
  assert.equal(taskIdOf({ url: 'https://b.example/y', contentForCalculatingTaskId: 'my-content' }), expected);
});
