/** `file://` URLs: the local filesystem as an origin (tests, preheating local artifacts). */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { SourceStatusError } from '../errors.ts';
import type { ReadRequest, Source, SourceRequest, SourceStat } from './source.ts';

export class FileSource implements Source {
  async stat(request: SourceRequest): Promise<SourceStat> {
    const info = await this.#statOrThrow(request.url);
    return { contentLength: info.size, rangeSupported: true, validator: `mtime:${info.mtimeMs}:${info.size}` };
  }

  async read(request: ReadRequest): Promise<AsyncIterable<Uint8Array>> {
    await this.#statOrThrow(request.url);
    const range = request.range;
    if (range && range.length === 0) return (async function* () {})();
    return createReadStream(fileURLToPath(request.url), {
      start: range?.start,
      end: range ? range.start + range.length - 1 : undefined,
      highWaterMark: 1024 * 1024,
      signal: request.signal,
    });
  }

  async #statOrThrow(url: string) {
    try {
      const info = await stat(fileURLToPath(url));
      if (!info.isFile()) throw new SourceStatusError(url, 400);
      return info;
    } catch (error) {
      if (error instanceof SourceStatusError) throw error;
      const code = (error as NodeJS.ErrnoException).code;
      throw new SourceStatusError(url, code === 'ENOENT' ? 404 : code === 'EACCES' ? 403 : 500);
    }
  }
}
