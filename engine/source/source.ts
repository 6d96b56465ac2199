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

/**
 * A body that moves itself into a file: the bytes go from the connection to the task file without
 * becoming JS buffers (engine/source/raw-range.ts over addon.receiveToFile). Sources return one
 * that is also an AsyncIterable, so code that only knows streams still works; writePiece prefers
 * receiveInto. Errors are the source's own (SourceProtocolError, SourceTimeoutError, ...).
 */
export interface DirectBody {
  /**
   * Writes the next `length` bytes at `position` of `fd`; resolves their count and CRC-32 (IEEE).
   * Once only. `onWritten`, while it runs, hears how many of them are on disk (only growing), so
   * a piece can be relayed before its last byte lands.
   */
  receiveInto(fd: number, position: number, length: number, onWritten?: (written: number) => void): Promise<{ bytes: number; crc32: number }>;
}

export function isDirectBody(body: unknown): body is DirectBody {
  return typeof (body as Partial<DirectBody> | null)?.receiveInto === 'function';
}

export interface Source {
  stat(request: SourceRequest): Promise<SourceStat>;
  /** The bytes of the range, exactly; the caller checks the count. May also be a DirectBody. */
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
