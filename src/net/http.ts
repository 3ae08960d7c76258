import { displayUrl, FragfetchError } from '../errors.js';
import { Credentials, type Trust } from './credentials.js';
import type { Dispatchers } from './dispatchers.js';
import type { Netrc } from './netrc.js';
import { type ProxyEnv, proxyFor } from './proxy-env.js';
import type { HttpResponse, InPlaceResponse } from './response-body.js';
import { ResponseHandler } from './response-handler.js';
import type { MinSpeed } from './speed-floor.js';
import { type FailureContext, toNetworkError } from './network-error.js';
import type { TlsSettings } from './tls.js';

export type { HttpResponse, InPlaceBody, InPlaceResponse } from './response-body.js';

/** How the run reaches servers: settings read once from options and the environment (cli/network.ts). */
export interface NetworkOptions {
  tls?: TlsSettings | undefined;
  /** Offer HTTP/2 by ALPN. */
  http2?: boolean | undefined;
  /** FRAGFETCH_TOKEN: a bearer token for the manifest's own origins. */
  token?: string | undefined;
  /** `--netrc`: logins by host. */
  netrc?: Netrc | undefined;
  /** Where the proxy variables are read; tests pass their own. */
  env?: ProxyEnv | undefined;
}

export interface HttpOptions extends NetworkOptions {
  /** Connect timeout, and again the wait for the response headers, ms; 0 is none. */
  timeoutMs: number;
  /** Longest silence within a body before the request is abandoned, ms; 0 is none. */
  stallTimeoutMs: number;
  /** The slowest pace of a body before the request is abandoned (ESLOW); undefined is none. */
  minSpeed?: MinSpeed | undefined;
  /** Extra request headers (`--header`); credentials among them go only where `trust` allows. */
  headers: Record<string, string>;
  /** The origins credentials may go to (a manifest's), and logins from its URLs. */
  trust?: Trust | undefined;
}

const USER_AGENT = 'fragfetch/0.1';
/** As curl's and browsers' limits run to 20–50, and hubs use one or two: more is a loop or a trap. */
export const MAX_REDIRECTIONS = 10;
const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/**
 * The run's HTTP client, on undici for every request: keep-alive pools per origin (dispatchers.ts),
 * proxies from HTTP_PROXY/HTTPS_PROXY/ALL_PROXY/NO_PROXY, TLS with the user's CAs and client
 * certificate, and redirects followed here rather than by undici's interceptor, so that which
 * credentials follow a redirect is our rule (credentials.ts).
 */
export class HttpClient {
  readonly options: HttpOptions;
  readonly credentials: Credentials;
  readonly #base: Record<string, string>;
  #dispatchers: Dispatchers | undefined;
  #loading: Promise<Dispatchers> | undefined;
  /** The proxy of each scheme and host: the variables and NO_PROXY's list are read once per host. */
  readonly #proxyOf = new Map<string, string | undefined>();
  /** Origins that have answered: their connections may be kept alive, and closed under a request. */
  readonly #answered = new Set<string>();
  /** With HTTP/2: the first request of each origin still waiting for its answer (see #firstOf). */
  readonly #opening = new Map<string, Promise<void>>();
  #received = 0;

  constructor(options: HttpOptions) {
    this.options = options;
    this.credentials = new Credentials({
      headers: options.headers,
      token: options.token,
      netrc: options.netrc,
      trust: options.trust,
    });
    this.#base = {
      'user-agent': USER_AGENT,
      // Identity keeps byte offsets meaningful: ranges are of the stored bytes, not of a re-encoding.
      'accept-encoding': 'identity',
      ...this.credentials.plainHeaders,
    };
  }

  /** undici is slow to load: loaded by the first request, which a run from the cache never makes. */
  async #pools(): Promise<Dispatchers> {
    this.#loading ??= import('./dispatchers.js').then(
      ({ Dispatchers }) =>
        (this.#dispatchers = new Dispatchers({
          connectTimeoutMs: this.options.timeoutMs,
          tls: this.options.tls ?? {},
          http2: this.options.http2 ?? false,
          proxyAuthorization: this.credentials.proxyAuthorization,
        })),
    );
    return this.#dispatchers ?? this.#loading;
  }

  /** Body bytes received by every request so far, used or not: what crossed the wire. */
  get received(): number {
    return this.#received;
  }

  proxyFor(url: URL): string | undefined {
    const key = `${url.protocol}//${url.host}`;
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
   * A GET whose body, when the answer is a 200 or 206 whose length fits, is received in place into
   * `inPlace` (InPlaceBody); else a stream, as `request` gives.
   */
  requestInPlace(
    url: string,
    headers: Record<string, string>,
    signal: AbortSignal | undefined,
    inPlace: Buffer,
  ): Promise<HttpResponse | InPlaceResponse> {
    return this.#send('GET', url, headers, signal, inPlace);
  }

  async #send(
    method: 'GET' | 'HEAD',
    url: string,
    headers: Record<string, string>,
    signal: AbortSignal | undefined,
    inPlace: Buffer | undefined,
  ): Promise<HttpResponse | InPlaceResponse> {
    const first = new URL(url);
    let target = first;
    let verb = method;
    const seen = new Set([first.href]);
    for (let hop = 0; ; hop++) {
      const response = await this.#once(verb, target, first, headers, signal, inPlace);
      const location = response.headers.location;
      if (!REDIRECTS.has(response.status) || location === undefined) return response;
      // The body of a redirect is a few bytes, read so the connection goes back to the pool.
      if ('body' in response) response.body.resume();
      const next = redirectTarget(location, target, hop, seen, response.status);
      if (response.status === 303 && verb !== 'HEAD') verb = 'GET';
      seen.add(next.href);
      target = next;
    }
  }

  async #once(
    method: 'GET' | 'HEAD',
    target: URL,
    first: URL,
    headers: Record<string, string>,
    signal: AbortSignal | undefined,
    inPlace: Buffer | undefined,
    resent = false,
  ): Promise<HttpResponse | InPlaceResponse> {
    if (signal?.aborted) throw signal.reason;
    const proxy = this.proxyFor(target);
    const secret = this.credentials.none ? undefined : this.credentials.headersFor(target, first);
    const opened =
      this.options.http2 && target.protocol === 'https:' ? await this.#firstOf(target.origin) : undefined;
    try {
      const pools = this.#dispatchers ?? (await this.#pools());
      const dispatcher = proxy === undefined ? pools.direct() : pools.via(proxy, target.protocol);
      const handler = new ResponseHandler(
        inPlace,
        signal,
        (error) => toNetworkError(error, target.href, signal, this.#context(proxy)) as Error,
        (bytes) => {
          this.#received += bytes;
        },
        this.options.minSpeed,
      );
      dispatcher.dispatch(
        {
          origin: target.origin,
          path: target.pathname + target.search,
          method,
          headers: secret ? { ...this.#base, ...secret, ...headers } : { ...this.#base, ...headers },
          headersTimeout: this.options.timeoutMs,
          bodyTimeout: this.options.stallTimeoutMs,
        },
        handler,
      );
      const response = await handler.response;
      this.#answered.add(target.origin);
      opened?.();
      return response;
    } catch (error) {
      if (!resent && this.#answered.has(target.origin) && isStaleConnection(error, signal))
        return this.#once(method, target, first, headers, signal, inPlace, true);
      throw toNetworkError(error, target.href, signal, this.#context(proxy));
    } finally {
      opened?.();
    }
  }

  /**
   * With HTTP/2, the first request to an origin goes alone: until its connection has negotiated,
   * undici's pool sees it busy and opens one connection per request waiting (16 TLS handshakes for
   * one origin), where an HTTP/2 connection carries them all. Returns, for that first request, the
   * function that lets the others go; they wait for it (the server answered, or failed).
   */
  async #firstOf(origin: string): Promise<(() => void) | undefined> {
    if (this.#answered.has(origin)) return undefined;
    const opening = this.#opening.get(origin);
    if (opening) {
      await opening;
      return undefined;
    }
    let open!: () => void;
    this.#opening.set(
      origin,
      new Promise<void>((resolve) => {
        open = resolve;
      }),
    );
    return () => {
      this.#opening.delete(origin);
      open();
    };
  }

  #context(proxy: string | undefined): FailureContext {
    const { timeoutMs, stallTimeoutMs } = this.options;
    return { proxy, timeoutMs, stallTimeoutMs };
  }

  async close(): Promise<void> {
    await this.#dispatchers?.close();
  }

  destroy(): void {
    this.#dispatchers?.destroy();
  }
}

/**
 * A connection closed before any answer came, to an origin that has answered before: most often a
 * kept-alive connection the server closed as the request left. A GET or HEAD is safe to send again,
 * once, at once, as curl and browsers do; an origin that never answered is not asked twice.
 */
function isStaleConnection(error: unknown, signal: AbortSignal | undefined): boolean {
  const code = (error as { code?: string }).code;
  return !signal?.aborted && (code === 'UND_ERR_SOCKET' || code === 'ECONNRESET' || code === 'EPIPE');
}

/** Where a redirect leads, or why it is refused: too many, a loop, or a scheme we do not fetch. */
function redirectTarget(location: string, from: URL, hop: number, seen: Set<string>, status: number): URL {
  const shown = displayUrl(from.href);
  if (hop + 1 > MAX_REDIRECTIONS)
    throw new FragfetchError('EREDIRECT', `GET ${shown}: more than ${MAX_REDIRECTIONS} redirections`, {
      url: from.href,
      status,
    });
  let next: URL;
  try {
    next = new URL(location, from);
  } catch (error) {
    throw new FragfetchError('EREDIRECT', `GET ${shown}: redirected to an invalid URL`, {
      url: from.href,
      status,
      cause: error,
    });
  }
  if (next.protocol !== 'http:' && next.protocol !== 'https:')
    throw new FragfetchError('EREDIRECT', `GET ${shown}: redirected to a ${next.protocol} URL`, {
      url: from.href,
      status,
    });
  if (seen.has(next.href))
    throw new FragfetchError('EREDIRECT', `GET ${shown}: redirect loop back to ${displayUrl(next.href)}`, {
      url: from.href,
      status,
    });
  return next;
}
