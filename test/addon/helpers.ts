import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { TestContext } from 'vitest';
import { loadAddon, nativeLoadError, type Addon } from '../../addon/index.ts';

export interface Implementation {
  name: 'native' | 'fallback';
  addon: Addon;
  /** false, or why the native half cannot run (printed once when this module loads). */
  skip: string | false;
}

const fallback = loadAddon({ forceFallback: true });
const loaded = loadAddon();
export const native: Addon | undefined = loaded.kind === 'native' ? loaded : undefined;

let nativeSkip: string | false = false;
if (native === undefined) {
  const reason = nativeLoadError()?.message ?? 'unknown reason';
  if (process.env['DF_E2E_REQUIRED'] === '1') {
    throw new Error(`DF_E2E_REQUIRED=1 but the native addon is not available: ${reason}`);
  }
  nativeSkip = `NATIVE ADDON NOT LOADED (${reason}); native tests skipped`;
  console.error(`\n!!!!! ${nativeSkip} !!!!!\n`);
}

/** Both implementations; the native one carries a skip reason when it is not built. */
export const implementations: Implementation[] = [
  { name: 'fallback', addon: fallback, skip: false },
  // When skipped, the fallback stands in so the test bodies still type-check; they never run.
  { name: 'native', addon: native ?? fallback, skip: nativeSkip },
];
export const fallbackAddon = fallback;
export const nativeSkipReason = nativeSkip;

/** Odd sizes around SHA block (64) and read buffer (1 MiB) boundaries. */
export const ODD_SIZES = [0, 1, 63, 64, 65, 127, 128, 129, 1000, (1 << 20) - 1, (1 << 20) + 7];

export function random(size: number): Buffer {
  return randomBytes(size);
}

export function tempDir(t: { onTestFinished(fn: () => void): void }): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'df-addon-test-'));
  t.onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** For assert.rejects/throws: checks the stable code (and message, when given). */
export function addonError(code: string, message?: string | RegExp): (err: unknown) => boolean {
  return (err: unknown) => {
    const e = err as { name?: unknown; code?: unknown; message?: unknown };
    if (e.name !== 'AddonError' || e.code !== code) {
      throw new Error(`expected AddonError ${code}, got ${String(e.name)} ${String(e.code)}: ${String(e.message)}`, { cause: err });
    }
    if (typeof message === 'string' && e.message !== message) throw new Error(`unexpected message: ${String(e.message)}`);
    if (message instanceof RegExp && !message.test(String(e.message))) throw new Error(`unexpected message: ${String(e.message)}`);
    return true;
  };
}

export interface Connection {
  /** The accepted side. */
  server: net.Socket;
  /** The connecting side. */
  client: net.Socket;
}

/** A real loopback TCP connection (server on port 0); everything is closed after the test. */
export async function connect(t: TestContext): Promise<Connection> {
  const listener = net.createServer();
  listener.listen(0, '127.0.0.1');
  await once(listener, 'listening');
  const accepted = once(listener, 'connection') as Promise<[net.Socket]>;
  const client = net.connect((listener.address() as net.AddressInfo).port, '127.0.0.1');
  await once(client, 'connect');
  const [server] = await accepted;
  // Resets are expected in some tests; without listeners they would crash the process.
  server.on('error', () => {});
  client.on('error', () => {});
  t.onTestFinished(() => {
    client.destroy();
    server.destroy();
    listener.close();
  });
  return { server, client };
}
