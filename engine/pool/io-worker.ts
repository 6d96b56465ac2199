/** Runs in piscina's worker threads: the hashing that must stay off the main thread. */
import { closeSync, openSync, readSync } from 'node:fs';
import { addon } from '../../addon/index.ts';
import { StorageError } from '../errors.ts';
import type { HashRangeTask, HashStreamMessage, HashStreamTask, IoTask, RangeAlgorithm } from './messages.ts';

export default function run(task: IoTask): string | Promise<string> {
  switch (task.type) {
    case 'hashRange':
      return hashRange(task);
    case 'hashStream':
      return hashStream(task);
  }
}

function hashRange(task: HashRangeTask): string {
  const fd = openSync(task.path, 'r');
  try {
    return addon.hashFileRangeSync(fd, task.offset, task.length, task.algorithm);
  } finally {
    closeSync(fd);
  }
}

function hashStream(task: HashStreamTask): Promise<string> {
  const fd = openSync(task.path, 'r');
  const hasher = streamHasher(task.algorithm);
  let expectedOffset = 0;
  return new Promise<string>((resolve, reject) => {
    const finish = (error: Error | undefined, digest?: string) => {
      task.port.close();
      closeSync(fd);
      if (error) reject(error);
      else resolve(digest!);
    };
    task.port.on('message', (message: HashStreamMessage) => {
      try {
        if (message.type === 'end') {
          finish(undefined, hasher.digest());
          return;
        }
        // Ranges must arrive in order and without gaps, or the digest would be of other content.
        if (message.offset !== expectedOffset) {
          throw new StorageError(`hashStream: range at ${message.offset} arrived, expected ${expectedOffset}`);
        }
        if (message.type === 'bytes') {
          hasher.updateBytes(message.data);
          expectedOffset += message.data.byteLength;
        } else {
          hasher.update(fd, message.offset, message.length);
          expectedOffset += message.length;
        }
      } catch (error) {
        finish(error as Error);
      }
    });
  });
}

interface StreamHasher {
  update(fd: number, offset: number, length: number): void;
  updateBytes(data: Uint8Array): void;
  digest(): string;
}

function streamHasher(algorithm: RangeAlgorithm): StreamHasher {
  if (algorithm !== 'crc32') {
    const hasher = addon.createHasher(algorithm);
    return {
      update: (fd, offset, length) => addon.updateHasherFromFile(hasher, fd, offset, length),
      updateBytes: (data) => hasher.update(data),
      digest: () => hasher.digestHex(),
    };
  }
  // The addon's hashers are sha* only; a whole-file crc32 continues from chunk to chunk instead.
  const buffer = Buffer.allocUnsafe(1 << 20);
  let crc = 0;
  return {
    update: (fd, offset, length) => {
      for (let done = 0; done < length; ) {
        const read = readSync(fd, buffer, 0, Math.min(buffer.length, length - done), offset + done);
        if (read === 0) throw new StorageError(`hashStream: file ends at ${offset + done}, before ${offset + length}`);
        crc = addon.crc32(buffer.subarray(0, read), crc);
        done += read;
      }
    },
    updateBytes: (data) => {
      crc = addon.crc32(data, crc);
    },
    digest: () => String(crc),
  };
}
