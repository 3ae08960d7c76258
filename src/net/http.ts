import type { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import { FragfetchError, stripUrlAuth } from '../errors.js';
import { DirectTransport } from './direct.js';
import type { SunkResponse } from './http1.js';
import { type ProxyEnv, proxyFor } from './proxy-env.js';
import { TRANSPORT_CODES } from './transport-errors.js';

export interface HttpOptions {
  /** Connect and response-headers timeout, ms. */
  timeoutMs: number;
  /** Longest silence within a body before the request is abandoned, ms. */
  stallTimeoutMs: number;
  /** Extra request headers (`--header`). */
  headers: Record<string, string>;
  /** Where the proxy variables are read; tests pass their own. */
  env?: ProxyEnv;
}

export interface HttpResponse {
  status: number;
  headers: Record<string, string | undefined>;
  body: Readable & AsyncIterable<Buffer>;
}

const USER_AGENT = 'fragfetch/0.1';

/**
 * The run's HTTP client: keep-alive pools per origin, redirects (which hubs use to send clients to
 * their CDN) followed. Direct requests go through Node's own client (see direct.ts, for speed); a
 * request the proxy variables (HTTP_PROXY, HTTPS_PROXY, NO_PROXY) send to a proxy goes through
 * undici's ProxyAgent, as users of curl and npm expect.
 */
export class HttpClient {
  readonly options: HttpOptions;
  readonly #proxies = new Map<string, Promise<Dispatcher>>();
  #direct: DirectTransport | undefined;
  /** The proxy of each scheme and host: the variables and NO_PROXY's list are read once per host. */
  readonly #proxyOf = new Map<string, string | undefined>();

  constructor(options: HttpOptions) {
    this.options = options;
  }

  /**
   * One undici ProxyAgent per proxy, made with the first request that needs it: undici is ~70 ms to
   * load, and most runs use no proxy.
   */
  #proxied(proxy: string): Promise<Dispatcher> {
    const { timeoutMs, stallTimeoutMs } = this.options;
    let dispatcher = this.#proxies.get(proxy);
    if (!dispatcher) {
      dispatcher = import('undici').then(({ ProxyAgent, interceptors }) =>
        new ProxyAgent({
          uri: proxy,
          connect: { timeout: timeoutMs },
          headersTimeout: timeoutMs,
          bodyTimeout: stallTimeoutMs,
          keepAliveTimeout: 30_000,
        }).compose(interceptors.redirect({ maxRedirections: 5 })),
      );
      this.#proxies.set(proxy, dispatcher);
    }
    return dispatcher;
  }

  #proxyFor(href: string, url: URL): string | undefined {
    // Keyed by the text up to the path, not by URL getters: ~5 µs a request on 2000 small objects.
    const key = href.slice(0, href.indexOf('/', href.indexOf('//') + 2) >>> 0);
    let proxy = this.#proxyOf.get(key);
    if (proxy === undefined && !this.#proxyOf.has(key)) {
      proxy = proxyFor(url, this.options.env);
      this.#proxyOf.set(key, proxy);
    }
    return proxy;
  }

  async request(
    method: 'GET' | 'HEAD',
    url: string,
    headers: Record<string, string>,
    signal?: AbortSignal,
  ): Promise<HttpResponse> {
    // Without a buffer to write into, every body is a stream.
    return (await this.#send(method, url, headers, signal, undefined)) as HttpResponse;
  }

  /**
   * A GET whose body, when the transport can (plain http, no proxy) and the answer is a 200 or 206
   * whose length fits, is written into `into` directly (http1.ts, SunkBody); else a stream, as ever.
   */
  requestInto(
    url: string,
    headers: Record<string, string>,
    signal: AbortSignal | undefined,
    into: Buffer,
  ): Promise<HttpResponse | SunkResponse> {
    return this.#send('GET', url, headers, signal, into);
  }

  async #send(
    method: 'GET' | 'HEAD',
    url: string,
    headers: Record<string, string>,
    signal: AbortSignal | undefined,
    into: Buffer | undefined,
  ): Promise<HttpResponse | SunkResponse> {
    const parsed = new URL(url);
    const allHeaders = {
      'user-agent': USER_AGENT,
      // Identity keeps byte offsets meaningful: ranges are of the stored bytes, not of a re-encoding.
      'accept-encoding': 'identity',
      ...this.options.headers,
      ...headers,
    };
    try {
      const proxy = this.#proxyFor(url, parsed);
      if (proxy === undefined) {
        this.#direct ??= new DirectTransport(this.options);
        const response = await this.#direct.request(method, parsed, allHeaders, signal, into);
        if ('sunk' in response) return response;
        return {
          status: response.status,
          headers: flattenHeaders(response.headers),
          body: response.body as HttpResponse['body'],
        };
      }
      const dispatcher = await this.#proxied(proxy);
      const response = await dispatcher.request({
        origin: parsed.origin,
        path: parsed.pathname + parsed.search,
        method,
        headers: allHeaders,
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
    this.#direct?.close();
    await Promise.all([...this.#proxies.values()].map(async (dispatcher) => (await dispatcher).close()));
  }

  destroy(): void {
    this.#direct?.close();
    for (const dispatcher of this.#proxies.values())
      void dispatcher.then((proxied) => proxied.destroy()).catch(() => {});
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

/** The transports' error codes, mapped to ours: which is a stall, a timeout, or a lost connection. */
const ERROR_CODES: Record<string, 'ESTALL' | 'ETIMEOUT' | 'ENETWORK'> = {
  UND_ERR_BODY_TIMEOUT: 'ESTALL',
  UND_ERR_HEADERS_TIMEOUT: 'ETIMEOUT',
  UND_ERR_CONNECT_TIMEOUT: 'ETIMEOUT',
  [TRANSPORT_CODES.bodyTimeout]: 'ESTALL',
  [TRANSPORT_CODES.headersTimeout]: 'ETIMEOUT',
  [TRANSPORT_CODES.connectTimeout]: 'ETIMEOUT',
};

/** A connect timeout, from either transport (for messages that say which stage timed out). */
export function isConnectTimeout(code: string | undefined): boolean {
  return code === 'UND_ERR_CONNECT_TIMEOUT' || code === TRANSPORT_CODES.connectTimeout;
}

/**
 * Any failure below HTTP becomes a FragfetchError that says what happened and where; an abort by the
 * user is passed through untouched so that it is never retried.
 */
export function toNetworkError(error: unknown, url: string, signal?: AbortSignal): unknown {
  if (signal?.aborted) return signal.reason;
  if (error instanceof FragfetchError) return error;
  const code = (error as { code?: string }).code ?? '';
  const mapped = ERROR_CODES[code] ?? 'ENETWORK';
  const reason = describe(error);
  const what = mapped === 'ESTALL' ? 'stalled' : mapped === 'ETIMEOUT' ? 'timed out' : 'failed';
  return new FragfetchError(mapped, `GET ${stripUrlAuth(url)} ${what}: ${reason}`, { cause: error, url });
}

function describe(error: unknown): string {
  const err = error as { code?: string; message?: string; cause?: { code?: string; message?: string } };
  const parts = [err.message ?? String(error)];
  if (err.cause?.code && !parts[0]?.includes(err.cause.code)) parts.push(`(${err.cause.code})`);
  else if (err.code && !parts[0]?.includes(err.code) && !/^(UND_ERR|FF_)/.test(err.code))
    parts.push(`(${err.code})`);
  return parts.join(' ');
}
