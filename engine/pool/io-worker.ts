/** Runs in piscina's worker threads: the hashing that must stay off the main thread. */
import { closeSync, openSync } from 'node:fs';
import { addon } from '../../addon/index.ts';
import type { HashRangeTask, HashStreamMessage, HashStreamTask, IoTask } from './messages.ts';

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
  const hasher = addon.createHasher(task.algorithm);
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
          finish(undefined, hasher.digestHex());
          return;
        }
        // Ranges must arrive in order and without gaps, or the digest would be of other content.
        if (message.offset !== expectedOffset) {
          throw new Error(`hashStream: range at ${message.offset} arrived, expected ${expectedOffset}`);
        }
        addon.updateHasherFromFile(hasher, fd, message.offset, message.length);
        expectedOffset += message.length;
      } catch (error) {
        finish(error as Error);
      }
    });
  });
}
