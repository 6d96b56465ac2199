/** Source backends: one interface, chosen by URL scheme through a registry. */
import { UnsupportedSchemeError } from '../errors.ts';

export interface SourceStat {
  readonly contentLength: number;
  /** False when the origin ignores Range: the content can only be read whole, in order. */
  readonly rangeSupported: boolean;
  /** A strong ETag or Last-Modified: sent as If-Range and compared on resume to spot changed content. */
  readonly validator?: string | undefined;
}

export interface SourceRequest {
  readonly url: string;
  readonly headers?: Readonly<Record<string, string>> | undefined;
  readonly signal?: AbortSignal | undefined;
  /** No bytes for this long fails the request. */
  readonly timeoutMs: number;
}

export interface ByteRange {
  readonly start: number;
  readonly length: number;
}

export interface ReadRequest extends SourceRequest {
  /** Absent: the whole content. */
  readonly range?: ByteRange | undefined;
  readonly validator?: string | undefined;
}

export interface Source {
  stat(request: SourceRequest): Promise<SourceStat>;
  /** The bytes of the range, exactly; the caller checks the count. */
  read(request: ReadRequest): Promise<AsyncIterable<Uint8Array>>;
  close?(): Promise<void>;
}

export class SourceRegistry {
  readonly #sources = new Map<string, Source>();

  register(scheme: string, source: Source): this {
    this.#sources.set(scheme.replace(/:$/, '').toLowerCase(), source);
    return this;
  }

  for(url: string): Source {
    let scheme: string;
    try {
      scheme = new URL(url).protocol.replace(/:$/, '');
    } catch {
      throw new UnsupportedSchemeError(url, [...this.#sources.keys()]);
    }
    const source = this.#sources.get(scheme);
    if (!source) throw new UnsupportedSchemeError(url, [...this.#sources.keys()]);
    return source;
  }

  async close(): Promise<void> {
    await Promise.all([...new Set(this.#sources.values())].map((source) => source.close?.()));
  }
}
