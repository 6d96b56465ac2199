/**
 * One bounded GET to a registry or its token service: the body is read up to a limit (a manifest
 * is small; a registry that streams more is broken or hostile), redirects are not followed (a
 * redirect would carry our Authorization to another host), and transport failures become the
 * preheat error codes. The caller's AbortSignal bounds the whole exchange.
 */
import { request } from 'undici';
import { ManifestTooLargeError, RegistryTimeoutError, RegistryUnreachableError } from './errors.ts';

export interface BoundedResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  /** The body, whole for 2xx; for other statuses at most ERROR_BODY_BYTES (enough for an error JSON). */
  readonly body: Buffer;
}

export interface GetOptions {
  readonly headers: Readonly<Record<string, string>>;
  /** A 2xx body longer than this fails with DF_ERR_PREHEAT_MANIFEST_TOO_LARGE. */
  readonly maxBytes: number;
  readonly signal: AbortSignal;
  /** Names the thing fetched in errors, e.g. "manifest e2e/app:1 from registry 127.0.0.1:5000". */
  readonly what: string;
}

const ERROR_BODY_BYTES = 64 * 1024;

export function headerValue(headers: BoundedResponse['headers'], name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value.join(', ') : value;
}

/** All values of a header that may repeat (WWW-Authenticate), one entry per line received. */
export function headerValues(headers: BoundedResponse['headers'], name: string): string[] {
  const value = headers[name];
  if (value === undefined) return [];
  return Array.isArray(value) ? value : [value];
}

/** An aborted signal becomes our timeout error when it timed out, else its own reason goes up. */
export function abortError(signal: AbortSignal, what: string): unknown {
  const reason: unknown = signal.reason;
  if (reason instanceof DOMException && reason.name === 'TimeoutError') {
    return new RegistryTimeoutError(`timed out fetching ${what}`, { cause: reason });
  }
  return reason;
}

export async function boundedGet(url: string, options: GetOptions): Promise<BoundedResponse> {
  const { signal, what } = options;
  if (signal.aborted) throw abortError(signal, what);
  let response: Awaited<ReturnType<typeof request>>;
  try {
    response = await request(url, { method: 'GET', headers: options.headers, signal });
  } catch (error) {
    if (signal.aborted) throw abortError(signal, what);
    const code = (error as { code?: unknown }).code;
    throw new RegistryUnreachableError(`cannot reach ${what}${typeof code === 'string' ? ` (${code})` : ''}`, { cause: error });
  }
  const success = response.statusCode >= 200 && response.statusCode < 300;
  const limit = success ? options.maxBytes : ERROR_BODY_BYTES;
  const announced = Number(headerValue(response.headers, 'content-length'));
  if (success && Number.isFinite(announced) && announced > limit) {
    response.body.destroy();
    throw new ManifestTooLargeError(`${what} is ${announced} bytes, above the limit of ${limit}`);
  }
  const chunks: Buffer[] = [];
  let length = 0;
  try {
    for await (const chunk of response.body as AsyncIterable<Buffer>) {
      if (length + chunk.length > limit) {
        response.body.destroy();
        // An error body is only read for its message, so it is cut rather than refused.
        if (!success) {
          chunks.push(chunk.subarray(0, limit - length));
          length = limit;
          break;
        }
        throw new ManifestTooLargeError(`${what} is more than the limit of ${limit} bytes`);
      }
      chunks.push(chunk);
      length += chunk.length;
    }
  } catch (error) {
    if (error instanceof ManifestTooLargeError) throw error;
    if (signal.aborted) throw abortError(signal, what);
    throw new RegistryUnreachableError(`connection lost while reading ${what}`, { cause: error });
  }
  return { status: response.statusCode, headers: response.headers, body: Buffer.concat(chunks, length) };
}

/** The registry's own error codes (`{"errors":[{"code":"MANIFEST_UNKNOWN"}]}`), for messages. */
export function registryErrorCodes(body: Buffer): string {
  try {
    const parsed = JSON.parse(body.toString('utf8')) as { errors?: Array<{ code?: unknown }> };
    const codes = (parsed.errors ?? []).map((e) => e.code).filter((c): c is string => typeof c === 'string' && /^[A-Z_]{1,64}$/.test(c));
    return codes.length > 0 ? ` (${codes.join(', ')})` : '';
  } catch {
    // Not the registry's JSON error shape: the status alone says enough.
    return '';
  }
}
