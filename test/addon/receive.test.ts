import assert from 'node:assert/strict';
import { once } from 'node:events';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { describe, test, type TestContext } from 'vitest';
import { setTimeout as delay } from 'node:timers/promises';
import zlib from 'node:zlib';
import { addonError, connect, implementations, random, tempDir } from './helpers.ts';

const MiB = 1 << 20;

function taskFile(t: TestContext): { fd: number; read: () => Buffer } {
  const file = path.join(tempDir(t), 'task.bin');
  const fd = fs.openSync(file, 'w+');
  t.onTestFinished(() => fs.closeSync(fd));
  return { fd, read: () => fs.readFileSync(file) };
}

/** Writes `data` in `chunk`-byte writes with `pauseMs` between them: a sender slower than the reader. */
async function trickle(socket: net.Socket, data: Buffer, chunk: number, pauseMs: number): Promise<void> {
  for (let at = 0; at < data.length && !socket.destroyed; at += chunk) {
    socket.write(data.subarray(at, at + chunk));
    await delay(pauseMs);
  }
}

function expectFile(actual: Buffer, position: number, body: Buffer): void {
  assert.equal(actual.length, position + body.length, 'file length: nothing written past the body');
  assert.ok(actual.subarray(0, position).every((b) => b === 0), 'nothing written before the position');
  assert.ok(actual.subarray(position).equals(body), 'file bytes differ from what was sent');
}

for (const { name, addon, skip } of implementations) {
  describe.skipIf(skip !== false)(`${name} addon: receiveToFile over loopback TCP`, () => {
    for (const [label, length, prefixBytes, position] of [
      ['20 MiB + 3 at an odd position, no prefix', 20 * MiB + 3, 0, 4097],
      ['1 MiB - 1 with a 1000-byte prefix', MiB - 1, 1000, 0],
      ['one byte', 1, 0, 7],
      ['a prefix that is the whole length', 4096, 4096, 100],
    ] as const) {
      test(`${label}: the bytes land at the position with their crc32`, async (t) => {
        const body = random(length);
        const { server, client } = await connect(t);
        const file = taskFile(t);
        server.end(body.subarray(prefixBytes));
        const prefix = prefixBytes > 0 ? body.subarray(0, prefixBytes) : undefined;
        const got = await addon.receiveToFile(client, file.fd, position, length, prefix);
        assert.deepEqual(got, { bytes: length, crc32: zlib.crc32(body) });
        expectFile(file.read(), position, body);
        assert.equal(client.destroyed, true, 'the socket is not reused');
      });
    }

    for (const keepAlive of [false, true]) {
      const call = keepAlive ? 'receiveToFileKeepAlive' : 'receiveToFile';
      test(`${call} tells onWritten the bytes on disk while the sender holds the rest back`, async (t) => {
        const body = random(3 * MiB + 5);
        const held = 2 * MiB;
        const { server, client } = await connect(t);
        const file = taskFile(t);
        const seen: number[] = [];
        let reached: (() => void) | undefined;
        const onWritten = (written: number): void => {
          seen.push(written);
          if (written >= held) reached?.();
        };
        const firstPart = new Promise<void>((resolve) => (reached = resolve));
        server.write(body.subarray(0, held));
        const receiving = addon[call](client, file.fd, 8, body.length, undefined, undefined, undefined, onWritten);
        // The rest is sent only once the first part is reported: a count told only at the end would hang here.
        await firstPart;
        const reported = seen.at(-1)!;
        assert.ok(file.read().subarray(8, 8 + reported).equals(body.subarray(0, reported)), 'reported bytes are on disk');
        server.end(body.subarray(held));
        const got = await receiving;
        assert.deepEqual(got, { bytes: body.length, crc32: zlib.crc32(body) });
        assert.equal(seen.at(-1), body.length, 'the last count is the whole length');
        assert.deepEqual(seen, [...seen].sort((a, b) => a - b), 'counts only grow');
        const told = seen.length;
        await delay(60);
        assert.equal(seen.length, told, 'nothing is told after the call settled');
      });
    }

    test('zero length resolves { bytes: 0, crc32: 0 } and writes nothing', async (t) => {
      const { client } = await connect(t);
      const file = taskFile(t);
      assert.deepEqual(await addon.receiveToFile(client, file.fd, 0, 0), { bytes: 0, crc32: 0 });
      assert.equal(file.read().length, 0);
      assert.equal(client.destroyed, true);
    });

    test('bytes buffered by Node before the call are received in order', async (t) => {
      const body = random(2 * MiB + 11);
      const { server, client } = await connect(t);
      const file = taskFile(t);
      client.pause();
      server.write(body.subarray(0, 100_000));
      // Node keeps reading into the paused stream's buffer up to its high-water mark.
      await delay(100);
      assert.ok(client.readableLength > 0, 'the test needs bytes waiting in the stream buffer');
      const rest = body.subarray(100_000);
      const sending = trickle(server, rest, 256 * 1024, 5).then(() => server.end());
      const prefix = Buffer.from('head');
      const got = await addon.receiveToFile(client, file.fd, 10, 4 + body.length, prefix);
      await sending;
      const all = Buffer.concat([prefix, body]);
      assert.deepEqual(got, { bytes: all.length, crc32: zlib.crc32(all) });
      expectFile(file.read(), 10, all);
    });

    test('a socket reading through `onread` (as engine/source/raw-range.ts does) is taken over without losing bytes', async (t) => {
      const body = random(4 * MiB + 1);
      const listener = net.createServer((socket) => socket.end(body));
      listener.listen(0, '127.0.0.1');
      await once(listener, 'listening');
      t.onTestFinished(() => {
        listener.close();
      });
      let first: Buffer | undefined;
      let gotFirst: () => void = () => {};
      const firstRead = new Promise<void>((resolve) => (gotFirst = resolve));
      const client = net.connect({
        port: (listener.address() as net.AddressInfo).port,
        host: '127.0.0.1',
        onread: {
          buffer: Buffer.alloc(4096),
          // The first read is kept and stops reading; later reads (if JS reads on) become stream data.
          callback: (nread: number, buf: Buffer): boolean => {
            if (first !== undefined) return client.push(Buffer.from(buf.subarray(0, nread)));
            first = Buffer.from(buf.subarray(0, nread));
            gotFirst();
            return false;
          },
        },
      });
      client.on('error', () => {});
      await firstRead;
      await delay(50);
      const file = taskFile(t);
      const receiving = addon.receiveToFile(client, file.fd, 0, body.length, first);
      // JS poking the socket mid-transfer (as a stray consumer might) must not take bytes from it:
      // at once (while the prefix is still being written) and a little later.
      queueMicrotask(() => client.resume());
      for (const at of [0, 5, 20]) {
        setTimeout(() => {
          client.resume();
          client.read(0);
        }, at);
      }
      const got = await receiving;
      assert.deepEqual(got, { bytes: body.length, crc32: zlib.crc32(body) });
      expectFile(file.read(), 0, body);
    });

    test('a slow sender (small writes with pauses) still delivers every byte', async (t) => {
      const body = random(MiB + 333);
      const { server, client } = await connect(t);
      const file = taskFile(t);
      const sending = trickle(server, body, 64 * 1024 + 1, 15);
      const got = await addon.receiveToFile(client, file.fd, 0, body.length, undefined, undefined, 5_000);
      await sending;
      assert.deepEqual(got, { bytes: body.length, crc32: zlib.crc32(body) });
      expectFile(file.read(), 0, body);
    });

    test('bytes after length are not written', async (t) => {
      const body = random(5000);
      const { server, client } = await connect(t);
      const file = taskFile(t);
      server.write(body);
      const got = await addon.receiveToFile(client, file.fd, 0, 3000, body.subarray(0, 10));
      const expected = Buffer.concat([body.subarray(0, 10), body.subarray(0, 2990)]);
      assert.deepEqual(got, { bytes: 3000, crc32: zlib.crc32(expected) });
      expectFile(file.read(), 0, expected);
    });

    test('the peer closing early rejects with DF_ERR_ADDON_PEER_CLOSED and the count received', async (t) => {
      const { server, client } = await connect(t);
      const file = taskFile(t);
      server.end(random(1000));
      await assert.rejects(
        addon.receiveToFile(client, file.fd, 0, 5000, Buffer.from('12')),
        addonError('DF_ERR_ADDON_PEER_CLOSED', 'receiveToFile: peer closed the connection after 1002 of 5000 bytes'),
      );
      assert.equal(client.destroyed, true);
    });

    test('a reset mid-body rejects with DF_ERR_ADDON_PEER_CLOSED', async (t) => {
      const { server, client } = await connect(t);
      const file = taskFile(t);
      server.write(random(300_000));
      setTimeout(() => server.resetAndDestroy(), 100);
      await assert.rejects(addon.receiveToFile(client, file.fd, 0, 10 * MiB), addonError('DF_ERR_ADDON_PEER_CLOSED'));
    });

    test('the AbortSignal stops a receive from a silent sender', async (t) => {
      const { server, client } = await connect(t);
      const file = taskFile(t);
      server.write(random(10));
      const controller = new AbortController();
      const reason = new Error('shutting down');
      setTimeout(() => controller.abort(reason), 100);
      await assert.rejects(addon.receiveToFile(client, file.fd, 0, 100, undefined, controller.signal), (err: unknown) => {
        assert.equal((err as Error).cause, reason);
        return addonError('DF_ERR_ADDON_ABORTED', 'receiveToFile: aborted after 10 of 100 bytes')(err);
      });
      assert.equal(client.destroyed, true);
      const again = await connect(t);
      await assert.rejects(addon.receiveToFile(again.client, file.fd, 0, 1, undefined, AbortSignal.abort()), addonError('DF_ERR_ADDON_ABORTED'));
      // Even with every byte at hand, an aborted call does not write.
      const third = await connect(t);
      await assert.rejects(
        addon.receiveToFile(third.client, file.fd, 0, 1, Buffer.from('x'), AbortSignal.abort()),
        addonError('DF_ERR_ADDON_ABORTED', 'receiveToFile: aborted after 0 of 1 bytes'),
      );
    });

    test('a sender that stops for longer than the idle timeout rejects with DF_ERR_ADDON_TIMEOUT', async (t) => {
      const { server, client } = await connect(t);
      const file = taskFile(t);
      server.write(Buffer.from('some'));
      await assert.rejects(
        addon.receiveToFile(client, file.fd, 0, 100, undefined, undefined, 150),
        addonError('DF_ERR_ADDON_TIMEOUT', 'receiveToFile: sender sent nothing for 150 ms, after 4 of 100 bytes'),
      );
    });

    test('a socket destroyed before the call rejects unless the prefix is everything', async (t) => {
      const file = taskFile(t);
      const first = await connect(t);
      first.client.destroy();
      await assert.rejects(
        addon.receiveToFile(first.client, file.fd, 0, 10, Buffer.from('abc')),
        addonError('DF_ERR_ADDON_PEER_CLOSED', 'receiveToFile: socket closed after 0 of 10 bytes'),
      );
      const second = await connect(t);
      second.client.destroy();
      assert.deepEqual(await addon.receiveToFile(second.client, file.fd, 0, 3, Buffer.from('abc')), { bytes: 3, crc32: zlib.crc32('abc') });
    });

    test('bad arguments reject with DF_ERR_ADDON_INVALID_ARGUMENT before the socket is touched', async (t) => {
      const { client } = await connect(t);
      const file = taskFile(t);
      await assert.rejects(
        addon.receiveToFile(client, file.fd, 0, 2, Buffer.from('abc')),
        addonError('DF_ERR_ADDON_INVALID_ARGUMENT', 'receiveToFile: prefix of 3 bytes is longer than length 2'),
      );
      await assert.rejects(addon.receiveToFile(client, -1, 0, 2), addonError('DF_ERR_ADDON_INVALID_ARGUMENT'));
      await assert.rejects(addon.receiveToFile(client, file.fd, 0.5, 2), addonError('DF_ERR_ADDON_INVALID_ARGUMENT'));
      assert.equal(client.destroyed, false);
    });
  });
}

for (const { name, addon, skip } of implementations) {
  describe.skipIf(skip !== false)(`${name} addon: receiveToFileKeepAlive leaves the socket for the next answer`, () => {
    test('three bodies sent back to back: each lands with its crc32, the socket stays open between them', async (t) => {
      const bodies = [random(3 * MiB + 5), random(1), random(2 * MiB - 7)];
      const { server, client } = await connect(t);
      const file = taskFile(t);
      server.write(Buffer.concat(bodies));
      let position = 0;
      for (const body of bodies) {
        const got = await addon.receiveToFileKeepAlive(client, file.fd, position, body.length);
        assert.deepEqual(got, { bytes: body.length, crc32: zlib.crc32(body) });
        assert.equal(client.destroyed, false, 'the socket is kept');
        position += body.length;
      }
      expectFile(file.read(), 0, Buffer.concat(bodies));
      // Still a working socket: the next bytes are readable in JS.
      server.write('next');
      client.resume();
      const [chunk] = (await once(client, 'data')) as [Buffer];
      assert.equal(chunk.toString(), 'next');
    });

    test('bytes Node read past the body before the call are given back, in order', async (t) => {
      const first = random(10_000);
      const second = random(5_000);
      const { server, client } = await connect(t);
      const file = taskFile(t);
      client.pause();
      server.write(Buffer.concat([first, second]));
      while (client.readableLength < first.length + second.length) await delay(5);
      assert.deepEqual(await addon.receiveToFileKeepAlive(client, file.fd, 0, first.length), { bytes: first.length, crc32: zlib.crc32(first) });
      assert.deepEqual(await addon.receiveToFileKeepAlive(client, file.fd, first.length, second.length), { bytes: second.length, crc32: zlib.crc32(second) });
      assert.equal(client.destroyed, false);
      expectFile(file.read(), 0, Buffer.concat([first, second]));
    });

    test('a peer that ends the stream right after the body: resolved, and the socket is destroyed', async (t) => {
      const body = random(MiB + 1);
      const { server, client } = await connect(t);
      const file = taskFile(t);
      server.end(body);
      await delay(20);
      assert.deepEqual(await addon.receiveToFileKeepAlive(client, file.fd, 0, body.length), { bytes: body.length, crc32: zlib.crc32(body) });
      await delay(20);
      assert.equal(client.destroyed, true, 'nothing more can come');
    });

    test('a short body rejects with DF_ERR_ADDON_PEER_CLOSED and destroys the socket', async (t) => {
      const { server, client } = await connect(t);
      const file = taskFile(t);
      server.end(random(1000));
      await assert.rejects(addon.receiveToFileKeepAlive(client, file.fd, 0, 5000), addonError('DF_ERR_ADDON_PEER_CLOSED', /after 1000 of 5000 bytes/));
      assert.equal(client.destroyed, true);
    });

    test('a reset mid-body rejects with DF_ERR_ADDON_PEER_CLOSED', async (t) => {
      const { server, client } = await connect(t);
      const file = taskFile(t);
      server.write(random(1000));
      const receiving = addon.receiveToFileKeepAlive(client, file.fd, 0, 10 * MiB);
      await delay(30);
      server.resetAndDestroy();
      await assert.rejects(receiving, addonError('DF_ERR_ADDON_PEER_CLOSED'));
      assert.equal(client.destroyed, true);
    });
  });
}
