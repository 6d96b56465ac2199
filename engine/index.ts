/** The piece engine: content store, hashing pool, source backends, download pipeline. */
export * from './errors.ts';
export { ENGINE_DEFAULTS, resolveEngineOptions, type EngineOptions, type ResolvedEngineOptions } from './options.ts';
export { createEngine, defaultSources, type Engine } from './engine.ts';
export type { DownloadRequest, DownloadResult } from './download/downloader.ts';
export type { DownloadEvent, DownloadEventListener } from './download/events.ts';
export { backoffDelay, withRetry } from './download/retry.ts';
export { ContentStore, type OpenTaskInput } from './store/content-store.ts';
export type { PieceRecord, StoredTask, TaskMetadata } from './store/task.ts';
export { checkOutputPath, exportFile } from './store/export.ts';
export { IoPool, type StreamingHash } from './pool/io-pool.ts';
export { isDirectBody, SourceRegistry, type ByteRange, type DirectBody, type ReadRequest, type Source, type SourceRequest, type SourceStat } from './source/source.ts';
export { HttpSource } from './source/http-source.ts';
export {
  CREDENTIAL_HEADERS,
  isCrossOrigin,
  REDIRECT_STATUSES,
  redirectInterceptor,
  redirectTraceOf,
  withoutCredentials,
  type RedirectDispatchOptions,
  type RedirectOptions,
  type RedirectTrace,
} from './source/redirect.ts';
export {
  isPlainBody,
  nativeReceiveToFile,
  nativeReceiveToFileKeepAlive,
  RawRangeBody,
  requestRange,
  type RawAnswer,
  type RawRangeRequest,
  type ReceiveToFile,
} from './source/raw-range.ts';
export { RAW_POOL_DEFAULTS, RawPool, type RawPoolOptions } from './source/raw-pool.ts';
export { FileSource } from './source/file-source.ts';
export { KEEP_ALIVE_BELOW_BYTES_PER_SECOND, LinkRates, linkRates, SLOW_LINK_PIECES_IN_FLIGHT, timedBody } from './source/link-rate.ts';
export { originOnly, type PieceSession, type PieceStrategy } from './download/session.ts';
export { queueOf, type PieceBody, type PieceJob } from './download/piece-loop.ts';
export type { ExpectedDigest } from './download/piece-writer.ts';
export { DigestVerifier, type ContentLayout } from './download/digest-verifier.ts';
export { TaskRegistry, type TaskEvent, type TaskListener, type TaskView } from './store/task-registry.ts';
export { PieceProgress, PieceReceipt, type ReceiptState } from './store/piece-progress.ts';
export { TokenBucket, type TokenBucketOptions } from './rate/token-bucket.ts';
export { createPieceSender, type PieceSender } from './serve/piece-sender.ts';
export { OpenFiles, type OpenFile } from './serve/open-files.ts';
