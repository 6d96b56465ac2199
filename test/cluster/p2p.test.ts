/**
 * End to end, all real processes: origin (test/support/origin.ts), dfscheduler, a seed dfdaemon and
 * four dfdaemons, each with its own ports, storage and socket; files fetched with dfget --endpoint.
 */
import { test } from 'vitest';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { startCluster } from '../support/cluster.ts';
import { dfgetThrough, downloadTraffic, scrape } from '../support/daemon.ts';
import { assertFileEquals } from '../support/engine.ts';
import { content, MiB } from '../support/origin.ts';

const PIECE = 4 * MiB;
const LENGTH = 40 * MiB;
const PIECES = LENGTH / PIECE;

const sorted = (values: number[]) => [...values].sort((a, b) => a - b);
const allStarts = Array.from({ length: PIECES }, (_, n) => n * PIECE);

test('a 40 MiB file on a seed and four peers: the origin sends each piece once, later peers get theirs from peers, every output is identical', { timeout: 180_000 }, async (t) => {
  const c = await startCluster(t, { peers: 4 });
  const body = content(LENGTH, 101);
  c.origin.setFile('/model.bin', body);
  const url = c.origin.url('/model.bin');
  const [first, ...later] = c.peers as [(typeof c.peers)[number], ...typeof c.peers];

  const firstRun = await dfgetThrough(first, [url, '-O', join(c.dir, 'out-1.bin')], { cacheHome: c.cacheHome });
  assert.equal(firstRun.code, 0, firstRun.stderr);
  // The others together, while the first and the seed serve.
  const results = await Promise.all(later.map((peer, i) => dfgetThrough(peer, [url, '-O', join(c.dir, `out-${i + 2}.bin`)], { cacheHome: c.cacheHome })));
  results.forEach((result, i) => assert.equal(result.code, 0, `peer-${i + 2}: ${result.stderr}`));
  const seedRun = await dfgetThrough(c.seed!, [url, '-O', join(c.dir, 'out-seed.bin')], { cacheHome: c.cacheHome });
  assert.equal(seedRun.code, 0, seedRun.stderr);

  for (let i = 1; i <= c.peers.length; i++) await assertFileEquals(join(c.dir, `out-${i}.bin`), body);
  await assertFileEquals(join(c.dir, 'out-seed.bin'), body);
  assert.deepEqual(sorted(c.origin.pieceStarts('/model.bin')), allStarts, 'the origin sent each piece exactly once');

  const seedTraffic = await downloadTraffic(c.seed!);
  assert.equal(seedTraffic.back_to_source, LENGTH, 'the seed fetched the file from the origin');
  for (const peer of c.peers) {
    const traffic = await downloadTraffic(peer);
    assert.equal(traffic.back_to_source, 0, `${peer.name} fetched nothing from the origin`);
    assert.equal(traffic.remote_peer, LENGTH, `${peer.name} got every piece from peers`);
  }
  const later2 = await scrape(later[0]!.ports.metrics);
  assert.equal(later2.get('dragonfly_client_download_task_total{type="normal"}'), 1);
  const seedMetrics = await scrape(c.seed!.ports.metrics);
  assert.ok((seedMetrics.get('dragonfly_client_upload_traffic') ?? 0) > 0, 'the seed uploaded to peers');
});

test('a seed that serves corrupt bytes (a proxy in front of its piece server flips a byte of each piece, headers intact) is caught by digest and reported; the peer still finishes correctly', { timeout: 180_000 }, async (t) => {
  const c = await startCluster(t, { peers: 1, corruptPieces: ['seed'] });
  const body = content(16 * MiB + 123, 102);
  c.origin.setFile('/file', body);
  const peer = c.peers[0]!;
  const result = await dfgetThrough(peer, [c.origin.url('/file'), '-O', join(c.dir, 'out.bin')], { cacheHome: c.cacheHome });
  assert.equal(result.code, 0, result.stderr);
  await assertFileEquals(join(c.dir, 'out.bin'), body);

  const samples = await scrape(peer.ports.metrics);
  assert.ok((samples.get('dragonfly_client_piece_digest_mismatch_total') ?? 0) > 0, 'the corrupt piece was detected by its digest');
  const failed = peer.proc.lines.filter((line) => line.msg === 'piece from parent failed; avoiding that parent');
  assert.ok(failed.length > 0);
  assert.equal((failed[0]!.error as { code?: string }).code, 'DF_ERR_PIECE_DIGEST_MISMATCH');
  assert.match(String(failed[0]!.parentId), /-seed$/, 'the seed was the parent at fault');
  assert.ok(c.corruptProxies.get('seed')!.corrupted > 0, 'the peer fetched from the seed through the proxy');
  // Nothing corrupt was ever recorded: the peer's own pieces are served with matching digests.
  const traffic = await downloadTraffic(peer);
  assert.equal(traffic.back_to_source + traffic.remote_peer, body.length);
});
