/** Typed messages between the main thread and the I/O workers. */
import type { MessagePort } from 'node:worker_threads';
import type { HashAlgorithm } from '../../addon/index.ts';

export type RangeAlgorithm = HashAlgorithm | 'crc32';

/** Hash one byte range of a file; pieces of one file hash in parallel on several threads. */
export interface HashRangeTask {
  readonly type: 'hashRange';
  readonly path: string;
  readonly offset: number;
  readonly length: number;
  readonly algorithm: RangeAlgorithm;
}

/**
 * Hash a whole file in order while it is still being written: the main thread posts each range
 * on `port` as soon as every byte before it is on disk, then `{ type: 'end' }`.
 */
export interface HashStreamTask {
  readonly type: 'hashStream';
  readonly path: string;
  readonly algorithm: RangeAlgorithm;
  readonly port: MessagePort;
}

export type IoTask = HashRangeTask | HashStreamTask;

/**
 * `range`: bytes [offset, offset+length) of the file are on disk; `bytes`: the next bytes of the
 * content are these (they never reach the file, e.g. the rest of a body relayed from the origin).
 */
export type HashStreamMessage =
  | { readonly type: 'range'; readonly offset: number; readonly length: number }
  | { readonly type: 'bytes'; readonly offset: number; readonly data: Uint8Array }
  | { readonly type: 'end' };
