/**
 * Two questions the mirror asks an upstream before trusting a request with it, each answered from
 * a short cache:
 * - Is this address a registry at all? Asked only of upstreams a client chose (`X-Dragonfly-
 *   Registry`, `?ns=`): a registry answers `/v2/` with `Docker-Distribution-API-Version`, so the
 *   mirror does not become a way to fetch from arbitrary services.
 * - May this client read this blob? A HEAD upstream with the client's own credentials: a node
 *   without access to a private image must not read it from the local cache.
 */
import { createHash } from 'node:crypto';
import { BadProxyRequestError } from './errors.ts';
import type { UpstreamAnswer, UpstreamClient } from './upstream-client.ts';

const MAX_ENTRIES = 10_000;

/** A map whose entries expire, bounded by dropping the oldest. */
class ExpiringCache<V> {
  readonly #entries = new Map<string, { value: V; expiresAt: number }>();

  get(key: string): V | undefined {
    const entry = this.#entries.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt > Date.now()) return entry.value;
    this.#entries.delete(key);
    return undefined;
  }

  set(key: string, value: V, ttlMs: number): void {
    if (ttlMs <= 0) return;
    this.#entries.delete(key);
    if (this.#entries.size >= MAX_ENTRIES) this.#entries.delete(this.#entries.keys().next().value!);
    this.#entries.set(key, { value, expiresAt: Date.now() + ttlMs });
  }
}

export const REGISTRY_API_HEADER = 'docker-distribution-api-version';

export class RegistryProbe {
  readonly #client: UpstreamClient;
  readonly #verdicts = new ExpiringCache<string | true>();

  constructor(client: UpstreamClient) {
    this.#client = client;
  }

  /** Resolves when `base` is a registry; BadProxyRequestError (400) when it answers but is not one. */
  async check(base: string, signal?: AbortSignal): Promise<void> {
    let verdict = this.#verdicts.get(base);
    if (verdict === undefined) {
      const answer = await this.#client.request({ url: `${base}/v2/`, method: 'GET', headers: {}, signal });
      void answer.body.dump();
      const version = answer.headers[REGISTRY_API_HEADER];
      verdict = typeof version === 'string' && version.startsWith('registry/2') ? true : `GET /v2/ answered ${answer.statusCode} without Docker-Distribution-API-Version: registry/2.0`;
      this.#verdicts.set(base, verdict, verdict === true ? 300_000 : 30_000);
    }
    if (verdict !== true) throw new BadProxyRequestError('NAME_INVALID', `${base} is not a container registry: ${verdict}`);
  }
}

export type AccessVerdict = { readonly ok: true; readonly contentType: string | undefined } | { readonly ok: false; readonly statusCode: number };

export class BlobAccess {
  readonly #client: UpstreamClient;
  readonly #ttlMs: number;
  readonly #granted = new ExpiringCache<{ readonly contentType: string | undefined }>();

  constructor(client: UpstreamClient, ttlMs: number) {
    this.#client = client;
    this.#ttlMs = ttlMs;
  }

  /**
   * Whether the upstream lets these credentials read the blob at `url`. A redirect counts as yes:
   * registries check credentials before sending a client to storage, and storage URLs are often
   * signed for GET only, so the HEAD is not followed there.
   */
  async check(url: string, authorization: string | undefined, signal?: AbortSignal): Promise<AccessVerdict> {
    const key = `${url}\n${createHash('sha256').update(authorization ?? '').digest('hex')}`;
    const cached = this.#granted.get(key);
    if (cached) return { ok: true, contentType: cached.contentType };
    const headers: Record<string, string> = authorization ? { authorization } : {};
    const answer: UpstreamAnswer = await this.#client.request({ url, method: 'HEAD', headers, signal, followRedirects: false });
    void answer.body.dump();
    if (answer.statusCode >= 400) return { ok: false, statusCode: answer.statusCode };
    const type = answer.headers['content-type'];
    const contentType = typeof type === 'string' && answer.statusCode < 300 ? type : undefined;
    this.#granted.set(key, { contentType }, this.#ttlMs);
    return { ok: true, contentType };
  }
}
