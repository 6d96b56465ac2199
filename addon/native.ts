import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { fromNative } from './errors.ts';
import { flushWrites, lendReading, readEnded, socketFd, stopError, takeOverReading, watchTransfer, type Stop } from './socket.ts';
import { ABORT_SIGNAL, ABORT_SOCKET_CLOSED, ADDON_DEFAULTS, type Addon, type HashAlgorithm, type Hasher, type OnWritten, type Received } from './types.ts';
import { checkReceive } from './validate.ts';
import { peerClosed } from './receive.ts';

/** What addon/src/glue.rs exports. Argument checks happen on the Rust side. */
export interface Binding {
  crc32(data: Uint8Array, initial?: number): number;
  hasherCreate(algorithm: string): object;
  hasherUpdate(handle: object, data: Uint8Array): void;
  hasherDigest(handle: object): string;
  hasherUpdateFromFile(handle: object, fd: number, offset: number, length: number): void;
  hashFileRange(fd: number, offset: number, length: number, algorithm: string): Promise<string>;
  hashFileRangeSync(fd: number, offset: number, length: number, algorithm: string): string;
  writeAt(fd: number, data: Uint8Array, position: number): Promise<number>;
  allocate(fd: number, offset: number, length: number): Promise<boolean>;
  sendFile(socketFd: number, fileFd: number, offset: number, length: number, abortFlag: Int32Array, idleTimeoutMs: number): Promise<number>;
  receiveToFile(
    socketFd: number,
    fileFd: number,
    position: number,
    length: number,
    prefix: Uint8Array,
    abortFlag: Int32Array,
    idleTimeoutMs: number,
    keepOpen?: boolean,
  ): Promise<Received & { open?: boolean }>;
}

/** File names `napi build --platform` gives the .node for this machine, most likely first. */
function candidateFiles(): string[] {
  const { platform, arch } = process;
  if (platform === 'linux') return [`linux-${arch}-gnu`, `linux-${arch}-musl`].map((p) => `df_addon.${p}.node`);
  if (platform === 'win32') return [`df_addon.win32-${arch}-msvc.node`];
  return [`df_addon.${platform}-${arch}.node`];
}

/** Loads the built .node next to this file; throws with the paths tried when there is none. */
export function loadBinding(): Binding {
  const paths = candidateFiles().map((name) => fileURLToPath(new URL(`./${name}`, import.meta.url)));
  const found = paths.find((p) => existsSync(p));
  if (found === undefined) {
    throw new Error(`native addon not built (looked for ${paths.join(', ')}); run \`npm run build:addon\``);
  }
  return createRequire(import.meta.url)(found) as Binding;
}

function sync<T>(call: () => T): T {
  try {
    return call();
  } catch (err) {
    throw fromNative(err);
  }
}

async function settled<T>(call: () => Promise<T>, cause?: () => unknown): Promise<T> {
  try {
    return await call();
  } catch (err) {
    throw fromNative(err, cause?.());
  }
}

class NativeHasher implements Hasher {
  readonly #binding: Binding;
  readonly #handle: object;

  constructor(binding: Binding, handle: object) {
    this.#binding = binding;
    this.#handle = handle;
  }

  update(data: Uint8Array): void {
    sync(() => this.#binding.hasherUpdate(this.#handle, data));
  }

  digestHex(): string {
    return sync(() => this.#binding.hasherDigest(this.#handle));
  }

  static handleOf(hasher: Hasher): object | undefined {
    return #handle in hasher ? hasher.#handle : undefined;
  }
}

/**
 * Reads the count a receive thread publishes in `flag[1]` every receiveProgressPollMs and tells
 * `onWritten` when it grew. The returned stop ends the timer; `last` true reads one final time
 * (the receive succeeded: the thread's final count is there).
 */
function pollProgress(flag: Int32Array, onWritten: OnWritten): (last: boolean) => void {
  let told = 0;
  const read = (): void => {
    const written = Atomics.load(flag, 1);
    if (written > told) {
      told = written;
      onWritten(written);
    }
  };
  // Nothing to keep the process up for: the receive itself holds a handle while it runs.
  const timer = setInterval(read, ADDON_DEFAULTS.receiveProgressPollMs).unref();
  let stopped = false;
  return (last) => {
    if (stopped) return;
    stopped = true;
    clearInterval(timer);
    if (last) read();
  };
}

/** The native Addon. `fallback` serves what sendfile cannot (TLS sockets) and foreign hashers. */
export function createNativeAddon(binding: Binding, fallback: Addon): Addon {
  async function sendFile(socket: Socket, fileFd: number, offset: number, length: number, signal?: AbortSignal): Promise<number> {
    if (socketFd(socket) === undefined && !socket.destroyed) {
      return fallback.sendFile(socket, fileFd, offset, length, signal);
    }
    // Shared memory, so the sending thread sees a stop between two sendfile calls.
    const flag = new Int32Array(new SharedArrayBuffer(4));
    let stop: Stop | undefined;
    const unwatch = watchTransfer(socket, signal, (s) => {
      stop = s;
      Atomics.store(flag, 0, s.kind === 'aborted' ? ABORT_SIGNAL : ABORT_SOCKET_CLOSED);
    });
    try {
      if (stop) throw stopError(stop, 0, length);
      await flushWrites(socket).catch((err: unknown) => Promise.reject(stop ? stopError(stop, 0, length) : err));
      const fd = socketFd(socket);
      if (stop || fd === undefined) throw stopError(stop ?? { kind: 'closed', cause: undefined }, 0, length);
      // Writes by anyone else during the transfer would interleave with file bytes; hold them.
      socket.cork();
      try {
        const idle = ADDON_DEFAULTS.sendFileIdleTimeoutMs;
        return await settled(() => binding.sendFile(fd, fileFd, offset, length, flag, idle), () => stop?.cause);
      } finally {
        socket.uncork();
      }
    } finally {
      unwatch();
    }
  }

  /**
   * Both receives. `keepOpen`: JS reading is only lent to the thread (lendReading) and given back
   * on success, with what Node had read past `length`; otherwise taken for good and the socket
   * destroyed.
   */
  async function receive(
    socket: Socket,
    fileFd: number,
    position: number,
    length: number,
    prefix: Uint8Array | undefined,
    signal: AbortSignal | undefined,
    idleTimeoutMs: number,
    keepOpen: boolean,
    onWritten: OnWritten | undefined,
  ): Promise<Received> {
    const head = checkReceive(socket, fileFd, position, length, prefix, idleTimeoutMs);
    if (socketFd(socket) === undefined && !socket.destroyed) {
      const js = keepOpen ? fallback.receiveToFileKeepAlive : fallback.receiveToFile;
      return js(socket, fileFd, position, length, head, signal, idleTimeoutMs, onWritten);
    }
    // Slot 0: the stop reason JS stores; slot 1 (only when someone listens): the bytes the thread has on disk.
    const flag = new Int32Array(new SharedArrayBuffer(onWritten ? 8 : 4));
    let stop: Stop | undefined;
    const unwatch = watchTransfer(socket, signal, (s) => {
      stop = s;
      Atomics.store(flag, 0, s.kind === 'aborted' ? ABORT_SIGNAL : ABORT_SOCKET_CLOSED);
    });
    let kept = false;
    let restore: ((surplus?: Uint8Array) => void) | undefined;
    let surplus: Uint8Array | undefined;
    let poll: ((last: boolean) => void) | undefined;
    try {
      if (stop?.kind === 'aborted') throw stopError(stop, 0, length, 'receiveToFile');
      let buffered: Buffer[] = [];
      if (!socket.destroyed && keepOpen) ({ buffered, restore } = lendReading(socket));
      else if (!socket.destroyed) buffered = takeOverReading(socket);
      const first = buffered.length === 0 ? head : Buffer.concat([head, ...buffered]);
      // Node may have read past the body's end: those bytes are the next answer's, never ours to write.
      const start = first.byteLength > length ? first.subarray(0, length) : first;
      if (first.byteLength > length) surplus = first.subarray(length);
      if (start.byteLength === length) {
        // Everything is here already: no thread, and a closed socket does not matter.
        await settled(() => binding.writeAt(fileFd, start, position));
        onWritten?.(length);
        kept = keepOpen && !readEnded(socket);
        return { bytes: length, crc32: binding.crc32(start) };
      }
      const fd = socketFd(socket);
      if (stop || fd === undefined) throw stopError(stop ?? { kind: 'closed', cause: undefined }, 0, length, 'receiveToFile');
      // Node already read the end of the stream: nothing more will come, and Node is about to
      // destroy the socket (allowHalfOpen false), which must not turn into a racing 'closed' stop.
      if (readEnded(socket)) throw peerClosed(start.byteLength, length);
      if (onWritten) poll = pollProgress(flag, onWritten);
      const got = await settled(() => binding.receiveToFile(fd, fileFd, position, length, start, flag, idleTimeoutMs, keepOpen), () => stop?.cause);
      poll?.(true);
      kept = keepOpen && got.open === true && stop === undefined;
      return { bytes: got.bytes, crc32: got.crc32 };
    } finally {
      poll?.(false);
      unwatch();
      if (kept && restore) restore(surplus);
      else socket.destroy();
    }
  }

  const receiveToFile: Addon['receiveToFile'] = (socket, fileFd, position, length, prefix, signal, idleTimeoutMs = ADDON_DEFAULTS.receiveIdleTimeoutMs, onWritten) =>
    receive(socket, fileFd, position, length, prefix, signal, idleTimeoutMs, false, onWritten);
  const receiveToFileKeepAlive: Addon['receiveToFileKeepAlive'] = (socket, fileFd, position, length, prefix, signal, idleTimeoutMs = ADDON_DEFAULTS.receiveIdleTimeoutMs, onWritten) =>
    receive(socket, fileFd, position, length, prefix, signal, idleTimeoutMs, true, onWritten);

  return Object.freeze({
    kind: 'native' as const,
    crc32: (data: Uint8Array, initial?: number): number => sync(() => binding.crc32(data, initial)),
    createHasher: (algorithm: HashAlgorithm): Hasher =>
      new NativeHasher(binding, sync(() => binding.hasherCreate(algorithm))),
    hashFileRange: (fd: number, offset: number, length: number, algorithm: HashAlgorithm | 'crc32'): Promise<string> =>
      settled(() => binding.hashFileRange(fd, offset, length, algorithm)),
    hashFileRangeSync: (fd: number, offset: number, length: number, algorithm: HashAlgorithm | 'crc32'): string =>
      sync(() => binding.hashFileRangeSync(fd, offset, length, algorithm)),
    updateHasherFromFile(hasher: Hasher, fd: number, offset: number, length: number): void {
      const handle = NativeHasher.handleOf(hasher);
      if (handle === undefined) fallback.updateHasherFromFile(hasher, fd, offset, length);
      else sync(() => binding.hasherUpdateFromFile(handle, fd, offset, length));
    },
    writeAt: (fd: number, data: Uint8Array, position: number): Promise<number> =>
      settled(() => binding.writeAt(fd, data, position)),
    allocate: (fd: number, offset: number, length: number): Promise<boolean> =>
      settled(() => binding.allocate(fd, offset, length)),
    sendFile,
    receiveToFile,
    receiveToFileKeepAlive,
  });
}
