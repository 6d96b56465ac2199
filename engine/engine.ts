/** The engine's own composition: store, hashing pool and source backends behind one object. */
import { IoPool } from './pool/io-pool.ts';
import { resolveEngineOptions, type EngineOptions, type ResolvedEngineOptions } from './options.ts';
import { FileSource } from './source/file-source.ts';
import { HttpSource } from './source/http-source.ts';
import { nativeReceiveToFileKeepAlive } from './source/raw-range.ts';
import { SourceRegistry } from './source/source.ts';
import { ContentStore } from './store/content-store.ts';
import { TaskRegistry } from './store/task-registry.ts';
import { Downloader, type DownloadRequest, type DownloadResult } from './download/downloader.ts';

export interface Engine {
  readonly options: ResolvedEngineOptions;
  readonly store: ContentStore;
  readonly pool: IoPool;
  readonly sources: SourceRegistry;
  /** Open and finished tasks, for serving them to other peers. */
  readonly tasks: TaskRegistry;
  download(request: DownloadRequest): Promise<DownloadResult>;
  close(): Promise<void>;
}

/** Source backends by scheme; callers may register more before downloading. */
export function defaultSources(options: ResolvedEngineOptions): SourceRegistry {
  const receiveKeepAlive = options.keepAlive && nativeReceiveToFileKeepAlive();
  const http = new HttpSource({
    maxRedirects: options.maxRedirects,
    redirectCacheTtlMs: options.redirectCacheTtlMs,
    ...(receiveKeepAlive && { keepAlive: { receiveKeepAlive } }),
  });
  return new SourceRegistry().register('http', http).register('https', http).register('file', new FileSource());
}

export function createEngine(input: EngineOptions, overrides: { sources?: SourceRegistry } = {}): Engine {
  const options = resolveEngineOptions(input);
  const store = new ContentStore(options.storageDir);
  const pool = new IoPool({ threads: options.ioThreads });
  const sources = overrides.sources ?? defaultSources(options);
  const tasks = new TaskRegistry(store);
  const downloader = new Downloader({ options, store, pool, sources, tasks });
  return {
    options,
    store,
    pool,
    sources,
    tasks,
    download: (request) => downloader.download(request),
    close: async () => {
      await Promise.all([pool.close(), sources.close()]);
    },
  };
}
