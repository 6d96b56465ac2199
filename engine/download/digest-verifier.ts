/**
 * How a download is verified against the whole content's digest: one streaming hash on the hashing
 * pool, fed in content order while the pieces land (each piece already passed its own crc32), so
 * the check finishes right after the last piece instead of re-reading the file afterwards, and the
 * main thread never hashes. Bytes that never reach the task file (the rest of a proxied body relayed
 * from the origin) go through the same hash from memory.
 */
import { formatDigest, parseDigest, type Digest } from '../../api/index.ts';
import { StorageError, TaskDigestMismatchError } from '../errors.ts';
import type { IoPool, StreamingHash } from '../pool/io-pool.ts';

export interface ContentLayout {
  readonly contentLength: number;
  readonly pieceLength: number;
}

export class DigestVerifier {
  readonly expected: Digest;
  readonly #pool: IoPool;
  readonly #dataPath: string;
  #hash: StreamingHash | undefined;
  #layout: ContentLayout | undefined;
  readonly #present = new Set<number>();
  #nextPiece = 0;
  /** Bytes of the content hashed (or queued to the worker) so far. */
  #offset = 0;

  /** The expected digest as `algorithm:value`. */
  get expectedText(): string {
    return formatDigest(this.expected);
  }

  /** `expected` is `sha256:<hex>`, `sha512:<hex>` or `crc32:<decimal>`; `dataPath` is the task file. */
  constructor(pool: IoPool, dataPath: string, expected: string) {
    this.expected = parseDigest(expected);
    this.#pool = pool;
    this.#dataPath = dataPath;
  }

  /** The content's layout is known and the task file exists; `present` pieces are on disk already. */
  start(layout: ContentLayout, present: Iterable<number> = []): void {
    if (this.#hash) return;
    this.#layout = layout;
    this.#hash = this.#pool.hashStream(this.#dataPath, this.expected.algorithm);
    for (const number of present) this.#present.add(number);
    this.#advance();
  }

  /** A verified piece is on disk: it is hashed as soon as every piece before it is. */
  piece(number: number): void {
    this.#present.add(number);
    this.#advance();
  }

  /** How many leading bytes of the content are hashed (or on their way to the worker). */
  get hashedBytes(): number {
    return this.#offset;
  }

  /** The next `length` bytes of the content are in the task file (already sent from it, say). */
  fileRange(length: number): void {
    this.#requireHash().push(this.#offset, length);
    this.#offset += length;
  }

  /** The next bytes of the content, from memory. */
  bytes(data: Uint8Array): void {
    if (data.byteLength === 0) return;
    this.#requireHash().pushBytes(this.#offset, data);
    this.#offset += data.byteLength;
  }

  /**
   * Resolves the matching digest string once every byte went through the hash; rejects with
   * TaskDigestMismatchError when the content is not what was expected.
   */
  async finish(): Promise<string> {
    const hash = this.#requireHash();
    const length = this.#layout!.contentLength;
    if (this.#offset !== length) {
      this.cancel();
      throw new StorageError(`cannot verify the digest: ${this.#offset} of ${length} bytes reached the hash`);
    }
    const expectedText = formatDigest(this.expected);
    const actualText = `${this.expected.algorithm}:${await hash.finish()}`;
    if (actualText !== expectedText) throw new TaskDigestMismatchError(expectedText, actualText);
    return actualText;
  }

  cancel(): void {
    this.#hash?.cancel();
  }

  #requireHash(): StreamingHash {
    if (!this.#hash) throw new StorageError('the digest check was not started');
    return this.#hash;
  }

  #advance(): void {
    const layout = this.#layout;
    if (!layout) return;
    while (this.#present.has(this.#nextPiece)) {
      const offset = this.#nextPiece * layout.pieceLength;
      const length = Math.min(layout.pieceLength, layout.contentLength - offset);
      this.#present.delete(this.#nextPiece);
      this.#nextPiece++;
      if (length > 0) this.fileRange(length);
    }
  }
}
