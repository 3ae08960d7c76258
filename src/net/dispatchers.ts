import type { SecureContext, TLSSocket } from 'node:tls';
import type { Agent as AgentType, buildConnector as BuildConnector, Dispatcher, ProxyAgent } from 'undici';
import { secureContextOf, type TlsSettings } from './tls.js';
import { Agent, buildConnector, Client, Pool, proxyAgent } from './undici.js';

export interface DispatcherOptions {
  /** Connect timeout, ms; 0 is none. */
  connectTimeoutMs: number;
  tls: TlsSettings;
  /** Offer HTTP/2 by ALPN (`--http2`); servers that do not take it get HTTP/1.1. */
  http2: boolean;
  /** Sent to the proxy only, in CONNECT and absolute-form requests. */
  proxyAuthorization?: string | undefined;
}

/** Idle keep-alive connections are closed after this long, below common servers' limits (nginx 75 s). */
const KEEP_ALIVE_MS = 30_000;
/**
 * How long closing may wait for pools whose requests have all ended: enough to send TLS close_notify
 * and HTTP/2 GOAWAY. A connection still being made (to a mirror that accepts and never answers the
 * handshake, whose request was hedged elsewhere and aborted) would hold close() until its connect
 * timeout.
 */
const CLOSE_GRACE_MS = 250;

/**
 * The run's connection pools: one undici Agent (a pool per origin) for direct requests, and one
 * ProxyAgent per proxy and scheme. Through a proxy, `https:` is tunnelled with CONNECT and plain
 * `http:` is sent as absolute-form requests, as curl does: proxies commonly refuse CONNECT to any
 * port but 443 (Debian's squid does), so tunnelling plain http would fail where curl works.
 */
export class Dispatchers {
  readonly #options: DispatcherOptions;
  #direct: AgentType | undefined;
  readonly #proxied = new Map<string, ProxyAgent>();

  constructor(options: DispatcherOptions) {
    this.#options = options;
  }

  /** One TLS context for the run's connections (`secureContextOf`), made at the first. */
  #secureContext: SecureContext | null | undefined;

  #connect() {
    const { tls, connectTimeoutMs } = this.#options;
    if (this.#secureContext === undefined) this.#secureContext = secureContextOf(tls) ?? null;
    return {
      timeout: connectTimeoutMs,
      ...(this.#secureContext ? { secureContext: this.#secureContext } : {}),
      rejectUnauthorized: !tls.insecure,
    };
  }

  direct(): Dispatcher {
    const connect = this.#connect();
    this.#direct ??= new Agent({
      connect,
      keepAliveTimeout: KEEP_ALIVE_MS,
      allowH2: this.#options.http2,
      ...(this.#options.http2 ? { ...H2_WINDOWS, factory: multiplexingPools(connect) } : {}),
    });
    return this.#direct;
  }

  /** `proxy`: the proxy's URL; `scheme`: the target's, which decides tunnel or absolute form. */
  via(proxy: string, scheme: string): Dispatcher {
    const key = `${scheme} ${proxy}`;
    let agent = this.#proxied.get(key);
    if (!agent) {
      const connect = this.#connect();
      const { proxyAuthorization } = this.#options;
      agent = proxyAgent({
        uri: proxy,
        proxyTunnel: scheme === 'https:',
        requestTls: connect,
        // An https proxy is verified with the same CAs as the origins.
        proxyTls: connect,
        connect,
        keepAliveTimeout: KEEP_ALIVE_MS,
        allowH2: this.#options.http2,
        ...(this.#options.http2 ? H2_WINDOWS : {}),
        ...(proxyAuthorization ? { token: proxyAuthorization } : {}),
      });
      this.#proxied.set(key, agent);
    }
    return agent;
  }

  /**
   * Closes the pools once their requests are done. undici's close can wait for ever after an HTTP/2
   * session failed (a refused client certificate, seen with undici 7.30), or for a connection being
   * made: past a grace, destroy.
   */
  async close(): Promise<void> {
    const agents = [this.#direct, ...this.#proxied.values()].filter((agent) => agent !== undefined);
    let timer: NodeJS.Timeout | undefined;
    const grace = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        this.destroy();
        resolve();
      }, CLOSE_GRACE_MS).unref();
    });
    await Promise.race([Promise.all(agents.map((agent) => agent.close())), grace]);
    clearTimeout(timer);
  }

  destroy(): void {
    void this.#direct?.destroy().catch(() => {});
    for (const agent of this.#proxied.values()) void agent.destroy().catch(() => {});
  }
}

/** Streams one HTTP/2 connection carries at once; servers commonly allow 100 or 128. */
const H2_STREAMS = 100;

/**
 * HTTP/2 flow-control windows: what the server may send before we acknowledge it. One connection
 * carries every stream, so its window bounds the whole download to window ÷ round trip: undici's
 * 512 KiB is 13 MB/s to an edge 40 ms away. 32 MiB (a stream 4 MiB) keeps 16–64 streams in flight
 * at hundreds of MB/s there, and is at most 32 MiB of memory per origin, as curl's windows are.
 */
const H2_WINDOWS = { initialWindowSize: 4 * 2 ** 20, connectionWindowSize: 32 * 2 ** 20 } as const;

/**
 * Pools whose connections take as many requests as their protocol does: undici counts a connection
 * busy once it has `pipelining` requests (1 by default), an HTTP/2 one too, and then opens another
 * per waiting request — 16 TLS handshakes where one HTTP/2 connection would carry all 16. Each
 * connection is told, once ALPN has chosen, whether it multiplexes.
 */
function multiplexingPools(connectOptions: BuildConnector.BuildOptions) {
  const connector = buildConnector({ ...connectOptions, allowH2: true });
  const clientOf = (origin: URL | string, options: ConstructorParameters<typeof Client>[1]): Dispatcher => {
    const client = new Client(origin, {
      ...options,
      connect: (opts, callback) =>
        connector(opts, (...args) => {
          const [error, socket] = args;
          if (!error && socket)
            client.pipelining = (socket as TLSSocket).alpnProtocol === 'h2' ? H2_STREAMS : 1;
          callback(...args);
        }),
    });
    return client;
  };
  return (origin: URL | string, options: AgentType.Options): Dispatcher =>
    new Pool(origin, { ...options, factory: clientOf });
}
