import { createHash, type Hash } from 'node:crypto';
import fs from 'node:fs';
import type { Socket } from 'node:net';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import { AddonError, fromSystem } from './errors.ts';
import { receiveToFile, receiveToFileKeepAlive } from './receive.ts';
import { stopError, watchTransfer, type Stop } from './socket.ts';
import { ADDON_DEFAULTS, type Addon, type HashAlgorithm, type Hasher } from './types.ts';
import { checkAlgorithm, checkBytes, checkFd, checkSize, checkUint32, rangePastEof } from './validate.ts';

// Pure JS twin of the native addon, with the same results, error codes and range rules. Used when
// the .node file is missing (no cargo at install) or DF_NO_ADDON=1, and as the reference in tests.

const fstat = promisify(fs.fstat);
const read = promisify(fs.read);
const write = promisify(fs.write);

function bytesOf(view: ArrayBufferView): Uint8Array {
  return view instanceof Uint8Array ? view : new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
}

/** Running digest in the output forms the native side uses: hex for SHA, decimal for CRC-32. */
interface RunningDigest {
  update(data: Uint8Array): void;
  finish(): string;
}

function runningDigest(algorithm: HashAlgorithm | 'crc32'): RunningDigest {
  if (algorithm === 'crc32') {
    let crc = 0;
    return { update: (data) => (crc = zlib.crc32(data, crc)), finish: () => String(crc) };
  }
  const hash: Hash = createHash(algorithm);
  return { update: (data) => hash.update(data), finish: () => hash.digest('hex') };
}

class FallbackHasher implements Hasher {
  #digest: RunningDigest | undefined;

  constructor(algorithm: HashAlgorithm) {
    this.#digest = runningDigest(algorithm);
  }

  update(data: Uint8Array): void {
    checkBytes('hasher.update', 'data', data);
    this.#live('hasher.update').update(bytesOf(data));
  }

  digestHex(): string {
    const digest = this.#live('hasher.digestHex');
    this.#digest = undefined;
    return digest.finish();
  }

  #live(op: string): RunningDigest {
    if (this.#digest === undefined) {
      throw new AddonError('DF_ERR_ADDON_HASHER_FINISHED', `${op}: hasher already finished by digestHex()`);
    }
    return this.#digest;
  }
}

function checkRangeOf(op: string, stat: fs.Stats, offset: number, length: number): void {
  // Only regular files have a size worth checking; block devices report 0.
  if (stat.isFile() && offset + length > stat.size) throw rangePastEof(op, offset, length, stat.size);
}

function shrank(op: string, offset: number, length: number, endedAt: number): AddonError {
  return new AddonError(
    'DF_ERR_ADDON_RANGE_PAST_EOF',
    `${op}: range ${offset}+${length} is past end of file (ended at byte ${endedAt})`,
  );
}

// Sync reads never overlap on one thread, so one buffer per module instance (per worker) suffices.
let syncBuffer: Buffer | undefined;

/** Feeds [offset, offset+length) of fd to `update` synchronously; `update` must not keep the array. */
function feedSync(op: string, fd: number, offset: number, length: number, update: (chunk: Uint8Array) => void): void {
  let stat: fs.Stats;
  try {
    stat = fs.fstatSync(fd);
  } catch (err) {
    throw fromSystem(`${op}: fstat`, err);
  }
  checkRangeOf(op, stat, offset, length);
  const buf = (syncBuffer ??= Buffer.allocUnsafe(ADDON_DEFAULTS.readChunkBytes));
  let done = 0;
  while (done < length) {
    const want = Math.min(buf.length, length - done);
    let got: number;
    try {
      got = fs.readSync(fd, buf, 0, want, offset + done);
    } catch (err) {
      throw fromSystem(`${op}: pread at ${offset + done}`, err);
    }
    if (got === 0) throw shrank(op, offset, length, offset + done);
    update(buf.subarray(0, got));
    done += got;
  }
}

async function hashFileRange(fd: number, offset: number, length: number, algorithm: HashAlgorithm | 'crc32'): Promise<string> {
  const op = 'hashFileRange';
  checkFd(op, 'fd', fd);
  checkSize(op, 'offset', offset);
  checkSize(op, 'length', length);
  checkAlgorithm(op, algorithm, true);
  const stat = await fstat(fd).catch((err: unknown) => Promise.reject(fromSystem(`${op}: fstat`, err)));
  checkRangeOf(op, stat, offset, length);
  const digest = runningDigest(algorithm);
  const buf = Buffer.allocUnsafe(Math.min(ADDON_DEFAULTS.readChunkBytes, Math.max(length, 1)));
  let done = 0;
  while (done < length) {
    const want = Math.min(buf.length, length - done);
    const { bytesRead } = await read(fd, buf, 0, want, offset + done).catch((err: unknown) =>
      Promise.reject(fromSystem(`${op}: pread at ${offset + done}`, err)),
    );
    if (bytesRead === 0) throw shrank(op, offset, length, offset + done);
    digest.update(buf.subarray(0, bytesRead));
    done += bytesRead;
  }
  return digest.finish();
}

async function writeAt(fd: number, data: Uint8Array, position: number): Promise<number> {
  const op = 'writeAt';
  checkFd(op, 'fd', fd);
  checkBytes(op, 'data', data);
  checkSize(op, 'position', position);
  const bytes = bytesOf(data);
  let done = 0;
  while (done < bytes.length) {
    const { bytesWritten } = await write(fd, bytes, done, bytes.length - done, position + done).catch((err: unknown) =>
      Promise.reject(fromSystem(`${op}: pwrite at ${position + done}`, err)),
    );
    done += bytesWritten;
  }
  return done;
}

async function allocate(fd: number, offset: number, length: number): Promise<boolean> {
  const op = 'allocate';
  checkFd(op, 'fd', fd);
  checkSize(op, 'offset', offset);
  checkSize(op, 'length', length);
  // Node has no fallocate; a bad fd still fails as it would natively.
  await fstat(fd).catch((err: unknown) => Promise.reject(fromSystem(`${op}: fstat`, err)));
  return length === 0;
}

async function sendFile(socket: Socket, fileFd: number, offset: number, length: number, signal?: AbortSignal): Promise<number> {
  const op = 'sendFile';
  checkFd(op, 'fileFd', fileFd);
  checkSize(op, 'offset', offset);
  checkSize(op, 'length', length);
  const stat = await fstat(fileFd).catch((err: unknown) => Promise.reject(fromSystem(`${op}: fstat`, err)));
  checkRangeOf(op, stat, offset, length);
  const idleMs = ADDON_DEFAULTS.sendFileIdleTimeoutMs;
  let sent = 0;
  let stop: Stop | undefined;
  let wake: (() => void) | undefined;
  const unwatch = watchTransfer(socket, signal, (s) => {
    stop = s;
    wake?.();
  });

  // Waits for `start`'s completion, a stop, or the idle timeout, whichever comes first.
  const waitFor = (start: (done: (err?: Error | null) => void) => () => void): Promise<void> =>
    new Promise((resolve, reject) => {
      let cleanup = (): void => {};
      const finish = (err?: unknown): void => {
        clearTimeout(timer);
        wake = undefined;
        cleanup();
        if (err === undefined) resolve();
        else reject(err);
      };
      const timer = setTimeout(() => {
        const msg = `sendFile: receiver accepted nothing for ${idleMs} ms, after ${sent} of ${length} bytes`;
        finish(new AddonError('DF_ERR_ADDON_TIMEOUT', msg));
      }, idleMs);
      wake = () => finish(stop && stopError(stop, sent, length));
      cleanup = start((err) => {
        if (!err) finish();
        else finish(stop ? stopError(stop, sent, length) : fromSystem(`${op}: write`, err));
      });
    });

  try {
    while (sent < length) {
      if (stop) throw stopError(stop, sent, length);
      const want = Math.min(ADDON_DEFAULTS.sendChunkBytes, length - sent);
      // A fresh buffer per chunk: socket.write keeps a reference until the bytes are flushed.
      const buf = Buffer.allocUnsafe(want);
      let got = 0;
      while (got < want) {
        const position = offset + sent + got;
        const { bytesRead } = await read(fileFd, buf, got, want - got, position).catch((err: unknown) =>
          Promise.reject(fromSystem(`${op}: pread at ${position}`, err)),
        );
        if (bytesRead === 0) {
          throw new AddonError('DF_ERR_ADDON_RANGE_PAST_EOF', `sendFile: file ended at byte ${position}, before range end ${offset + length}`);
        }
        got += bytesRead;
      }
      if (stop) throw stopError(stop, sent, length);
      sent += want;
      if (sent === length) {
        // The last write's callback fires once every earlier byte reached the kernel too.
        await waitFor((done) => {
          socket.write(buf, done);
          return () => {};
        });
      } else if (!socket.write(buf)) {
        await waitFor((done) => {
          const onDrain = (): void => done();
          socket.once('drain', onDrain);
          return () => socket.off('drain', onDrain);
        });
      }
    }
    return sent;
  } finally {
    unwatch();
  }
}

export function createFallbackAddon(): Addon {
  return Object.freeze({
    kind: 'fallback' as const,
    crc32(data: Uint8Array, initial = 0): number {
      checkBytes('crc32', 'data', data);
      checkUint32('crc32', 'initial', initial);
      return zlib.crc32(data, initial);
    },
    createHasher(algorithm: HashAlgorithm): Hasher {
      checkAlgorithm('createHasher', algorithm, false);
      return new FallbackHasher(algorithm);
    },
    hashFileRange,
    hashFileRangeSync(fd: number, offset: number, length: number, algorithm: HashAlgorithm | 'crc32'): string {
      const op = 'hashFileRangeSync';
      checkFd(op, 'fd', fd);
      checkSize(op, 'offset', offset);
      checkSize(op, 'length', length);
      checkAlgorithm(op, algorithm, true);
      const digest = runningDigest(algorithm);
      feedSync(op, fd, offset, length, (chunk) => digest.update(chunk));
      return digest.finish();
    },
    updateHasherFromFile(hasher: Hasher, fd: number, offset: number, length: number): void {
      const op = 'updateHasherFromFile';
      checkFd(op, 'fd', fd);
      checkSize(op, 'offset', offset);
      checkSize(op, 'length', length);
      feedSync(op, fd, offset, length, (chunk) => hasher.update(chunk));
    },
    writeAt,
    allocate,
    sendFile,
    receiveToFile,
    receiveToFileKeepAlive,
  });
}
