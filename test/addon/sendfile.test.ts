import assert from 'node:assert/strict';
import { once } from 'node:events';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { describe, test, type TestContext } from 'vitest';
import { setTimeout as delay } from 'node:timers/promises';
import { addonError, connect, implementations, random, tempDir } from './helpers.ts';

const MiB = 1 << 20;

/** Everything the client receives until the server ends the connection. */
function collect(client: net.Socket, onData?: (received: number) => void): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let received = 0;
  client.on('data', (chunk: Buffer) => {
    chunks.push(chunk);
    received += chunk.length;
    onData?.(received);
  });
  return once(client, 'end').then(() => Buffer.concat(chunks));
}

function sameBytes(actual: Buffer, expected: Buffer): void {
  assert.equal(actual.length, expected.length, 'received length');
  assert.ok(actual.equals(expected), 'received bytes differ from the file range');
}

function bigFile(t: TestContext): { fd: number; data: Buffer } {
  const data = random(20 * MiB + 4099);
  const file = path.join(tempDir(t), 'big.bin');
  fs.writeFileSync(file, data);
  const fd = fs.openSync(file, 'r');
  t.onTestFinished(() => fs.closeSync(fd));
  return { fd, data };
}

for (const { name, addon, skip } of implementations) {
  describe.skipIf(skip !== false)(`${name} addon: sendFile over loopback TCP`, () => {
    test('sends a 20 MiB range at an odd offset, after bytes written before it', async (t) => {
      const { fd, data } = bigFile(t);
      const { server, client } = await connect(t);
      const received = collect(client);
      server.write('HEADER\r\n');
      const offset = 4097;
      const sent = await addon.sendFile(server, fd, offset, 20 * MiB, undefined);
      assert.equal(sent, 20 * MiB);
      server.end('TRAILER');
      sameBytes(await received, Buffer.concat([Buffer.from('HEADER\r\n'), data.subarray(offset, offset + 20 * MiB), Buffer.from('TRAILER')]));
    });

    test('a slow reader (paused, then reading in bursts) still gets every byte', async (t) => {
      const { fd, data } = bigFile(t);
      const { server, client } = await connect(t);
      client.pause();
      let nextPauseAt = 4 * MiB;
      const received = collect(client, (n) => {
        if (n < nextPauseAt) return;
        nextPauseAt += 4 * MiB;
        client.pause();
        setTimeout(() => client.resume(), 50);
      });
      client.pause();
      setTimeout(() => client.resume(), 300);
      const sent = await addon.sendFile(server, fd, 1, 20 * MiB);
      server.end();
      assert.equal(sent, 20 * MiB);
      sameBytes(await received, data.subarray(1, 1 + 20 * MiB));
    });

    test('the client destroying the socket mid-transfer rejects the promise', async (t) => {
      const { fd } = bigFile(t);
      const { server, client } = await connect(t);
      collect(client, (n) => {
        if (n >= MiB && !client.destroyed) client.resetAndDestroy();
      }).catch(() => {});
      await assert.rejects(addon.sendFile(server, fd, 0, 20 * MiB), addonError('DF_ERR_ADDON_PEER_CLOSED', /^sendFile: /));
      // The process is still healthy: another transfer works.
      const next = await connect(t);
      const received = collect(next.client);
      assert.equal(await addon.sendFile(next.server, fd, 0, 1000), 1000);
      next.server.end();
      assert.equal((await received).length, 1000);
    });

    test('the AbortSignal stops a transfer to a client that does not read', async (t) => {
      const { fd } = bigFile(t);
      const { server, client } = await connect(t);
      client.pause();
      const controller = new AbortController();
      const reason = new Error('shutting down');
      setTimeout(() => controller.abort(reason), 100);
      await assert.rejects(addon.sendFile(server, fd, 0, 20 * MiB, controller.signal), (err: unknown) => {
        assert.equal((err as Error).cause, reason);
        return addonError('DF_ERR_ADDON_ABORTED', /^sendFile: aborted after \d+ of 20971520 bytes$/)(err);
      });
      await assert.rejects(addon.sendFile(server, fd, 0, 1, AbortSignal.abort()), addonError('DF_ERR_ADDON_ABORTED'));
    });

    test('the socket closed by its owner mid-transfer rejects with DF_ERR_ADDON_PEER_CLOSED', async (t) => {
      const { fd } = bigFile(t);
      const { server, client } = await connect(t);
      client.pause();
      setTimeout(() => server.destroy(), 100);
      await assert.rejects(addon.sendFile(server, fd, 0, 20 * MiB), addonError('DF_ERR_ADDON_PEER_CLOSED'));
      await assert.rejects(addon.sendFile(server, fd, 0, 1), addonError('DF_ERR_ADDON_PEER_CLOSED', 'sendFile: socket closed after 0 of 1 bytes'));
    });

    // The timeout turns a hang (transfers occupying the pool) into a failure.
    test('stalled transfers do not hold libuv threadpool threads', { timeout: 20_000 }, async (t) => {
      const { fd } = bigFile(t);
      const controller = new AbortController();
      const stalled: Promise<unknown>[] = [];
      // More stalled transfers than the default pool has threads (4).
      for (let i = 0; i < 6; i++) {
        const { server, client } = await connect(t);
        client.pause();
        stalled.push(addon.sendFile(server, fd, 0, 20 * MiB, controller.signal).catch((err: unknown) => err));
      }
      await delay(100);
      // Would never complete if the transfers occupied the pool.
      assert.equal(await addon.hashFileRange(fd, 0, 100, 'crc32'), await addon.hashFileRange(fd, 0, 100, 'crc32'));
      await fs.promises.stat(path.dirname(tempDir(t)));
      controller.abort();
      for (const err of await Promise.all(stalled)) addonError('DF_ERR_ADDON_ABORTED')(err);
    });

    test('range checks: past end of file rejects, zero length resolves 0', async (t) => {
      const { fd, data } = bigFile(t);
      const { server } = await connect(t);
      await assert.rejects(
        addon.sendFile(server, fd, data.length - 10, 11),
        addonError('DF_ERR_ADDON_RANGE_PAST_EOF', `sendFile: range ${data.length - 10}+11 is past end of file (${data.length} bytes)`),
      );
      assert.equal(await addon.sendFile(server, fd, data.length, 0), 0);
      await assert.rejects(addon.sendFile(server, fd, -1, 1), addonError('DF_ERR_ADDON_INVALID_ARGUMENT'));
    });
  });
}
