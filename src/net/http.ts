import type { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import { FragfetchError, stripUrlAuth } from '../errors.js';

export interface HttpOptions {
  /** Connect and response-headers timeout, ms. */
  timeoutMs: number;
  /** Longest silence within a body before the request is abandoned, ms. */
  stallTimeoutMs: number;
  /** Extra request headers (`--header`). */
  headers: Record<string, string>;
}

export interface HttpResponse {
  status: number;
  headers: Record<string, string | undefined>;
  body: Readable & AsyncIterable<Buffer>;
}

const USER_AGENT = 'fragfetch/0.1 (+undici)';

/**
 * One keep-alive dispatcher for the whole run: undici keeps a pool per origin inside it. The proxy
 * variables (HTTP_PROXY, HTTPS_PROXY, NO_PROXY) are honoured, as users of curl and npm expect, and
 * redirects (which hubs use to send clients to their CDN) are followed.
 */
export class HttpClient {
  readonly options: HttpOptions;
  #dispatcher: Promise<Dispatcher> | undefined;

  constructor(options: HttpOptions) {
    this.options = options;
  }

  /**
   * undici is loaded with the first request: a run served from the cache sends none, and loading
   * undici is ~70 ms of such a run's ~0.3 s (`npm run bench`, warm).
   */
  #dispatcherOnce(): Promise<Dispatcher> {
    const { timeoutMs, stallTimeoutMs } = this.options;
    this.#dispatcher ??= import('undici').then(({ EnvHttpProxyAgent, interceptors }) =>
      new EnvHttpProxyAgent({
        connect: { timeout: timeoutMs },
        headersTimeout: timeoutMs,
        bodyTimeout: stallTimeoutMs,
        keepAliveTimeout: 30_000,
      }).compose(interceptors.redirect({ maxRedirections: 5 })),
    );
    return this.#dispatcher;
  }

  async request(
    method: 'GET' | 'HEAD',
    url: string,
    headers: Record<string, string>,
    signal?: AbortSignal,
  ): Promise<HttpResponse> {
    const { origin, pathname, search } = new URL(url);
    try {
      const dispatcher = await this.#dispatcherOnce();
      const response = await dispatcher.request({
        origin,
        path: pathname + search,
        method,
        headers: {
          'user-agent': USER_AGENT,
          // Identity keeps byte offsets meaningful: ranges are of the stored bytes, not of a re-encoding.
          'accept-encoding': 'identity',
          ...this.options.headers,
          ...headers,
        },
        signal,
      });
      return {
        status: response.statusCode,
        headers: flattenHeaders(response.headers),
        body: response.body as HttpResponse['body'],
      };
    } catch (error) {
      throw toNetworkError(error, url, signal);
    }
  }

  async close(): Promise<void> {
    if (this.#dispatcher) await (await this.#dispatcher).close();
  }

  destroy(): void {
    void this.#dispatcher?.then((dispatcher) => dispatcher.destroy()).catch(() => {});
  }
}

function flattenHeaders(
  headers: Record<string, string | string[] | undefined>,
): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(headers))
    out[name] = Array.isArray(value) ? value.join(', ') : value;
  return out;
}

/** undici's error codes, mapped to ours: which of them is a stall, a timeout, or a lost connection. */
const UNDICI_CODES: Record<string, 'ESTALL' | 'ETIMEOUT' | 'ENETWORK'> = {
  UND_ERR_BODY_TIMEOUT: 'ESTALL',
  UND_ERR_HEADERS_TIMEOUT: 'ETIMEOUT',
  UND_ERR_CONNECT_TIMEOUT: 'ETIMEOUT',
};

/**
 * Any failure below HTTP becomes a FragfetchError that says what happened and where; an abort by the
 * user is passed through untouched so that it is never retried.
 */
export function toNetworkError(error: unknown, url: string, signal?: AbortSignal): unknown {
  if (signal?.aborted) return signal.reason;
  if (error instanceof FragfetchError) return error;
  const code = (error as { code?: string }).code ?? '';
  const mapped = UNDICI_CODES[code] ?? 'ENETWORK';
  const reason = describe(error);
  const what = mapped === 'ESTALL' ? 'stalled' : mapped === 'ETIMEOUT' ? 'timed out' : 'failed';
  return new FragfetchError(mapped, `GET ${stripUrlAuth(url)} ${what}: ${reason}`, { cause: error, url });
}

function describe(error: unknown): string {
  const err = error as { code?: string; message?: string; cause?: { code?: string; message?: string } };
  const parts = [err.message ?? String(error)];
  if (err.cause?.code && !parts[0]?.includes(err.cause.code)) parts.push(`(${err.cause.code})`);
  else if (err.code && !parts[0]?.includes(err.code) && !err.code.startsWith('UND_ERR'))
    parts.push(`(${err.code})`);
  return parts.join(' ');
}
