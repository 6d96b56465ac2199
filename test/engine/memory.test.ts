/**
 * A correctness bound, not a speed test: bytes stream from the socket to the task file in batches,
 * so the memory a download holds does not grow with the content.
 */
import { test } from 'vitest';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { assertFileEquals, fixture } from '../support/engine.ts';
import { content, MiB } from '../support/origin.ts';

const LENGTH = 64 * MiB;
const BOUND = 32 * MiB;

// What a download holds, not what the collector has yet to free: collect before each sample.
setFlagsFromString('--expose-gc');
const collect = runInNewContext('gc') as () => void;

test(`a ${LENGTH / MiB} MiB download with 2 pieces at a time holds well under its size in ArrayBuffers`, async (t) => {
  const f = await fixture(t, { engine: { concurrentPieceCount: 2 } });
  // The origin's copy lives in this process too: made before the baseline, it is not counted.
  const body = content(LENGTH, 40);
  const digest = `sha256:${createHash('sha256').update(body).digest('hex')}`;
  f.origin.setFile('/file', body);
  collect();
  const baseline = process.memoryUsage().arrayBuffers;
  let peak = baseline;
  const sample = () => {
    collect();
    peak = Math.max(peak, process.memoryUsage().arrayBuffers);
  };
  const timer = setInterval(sample, 50);
  try {
    await f.download({
      url: f.origin.url(),
      outputPath: f.out(),
      pieceLength: 4 * MiB,
      digest,
      onEvent: (e) => (e.type === 'piece' ? sample() : undefined),
    });
  } finally {
    clearInterval(timer);
  }
  const growth = peak - baseline;
  assert.ok(growth < BOUND, `ArrayBuffers grew by ${(growth / MiB).toFixed(1)} MiB during a ${LENGTH / MiB} MiB download`);
  await assertFileEquals(f.out(), body);
});
