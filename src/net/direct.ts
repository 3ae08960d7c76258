import type { IncomingMessage } from 'node:http';
import type https from 'node:https';
import type { Readable } from 'node:stream';
import { Http1Client, type SunkResponse } from './http1.js';
import {
  deadlineFailure,
  IDLE_SOCKET_MS,
  stallFailure,
  TRANSPORT_CODES,
  type TransportOptions,
  transportFailure,
} from './transport-errors.js';

/**
 * Requests without a proxy: `http:` on our own HTTP/1.1 client (http1.ts), `https:` on Node's.
 * Node's parser is native where undici parses in wasm and copies every chunk out: draining and
 * writing 1 GiB of 16 MiB objects took 1.8–2.1 s with node:http against undici's 2.8–3.4 s, with
 * half the user CPU; http1.ts halves that again (`npm run bench`, bulk; issue 7). Proxied requests
 * go through undici (http.ts).
 */
export interface DirectResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Readable;
}

const MAX_REDIRECTIONS = 5;
const REDIRECTS = new Set([301, 302, 303, 307, 308]);

export class DirectTransport {
  readonly #options: TransportOptions;
  /**
   * node:https and its pool, loaded by the first https request: TLS is several milliseconds of a
   * start that plain-http runs need not pay.
   */
  #tls: Promise<{ request: typeof https.request; agent: https.Agent }> | undefined;
  readonly #http1: Http1Client;

  constructor(options: TransportOptions) {
    this.#options = options;
    this.#http1 = new Http1Client(options);
  }

  /**
   * Follows up to five redirects, as curl -L and undici's redirect interceptor do. `into`: where the
   * body of a plain-http 200 or 206 that fits may be written directly (http1.ts, SunkBody).
   */
  async request(
    method: 'GET' | 'HEAD',
    url: URL,
    headers: Record<string, string>,
    signal?: AbortSignal,
    into?: Buffer,
  ): Promise<DirectResponse | SunkResponse> {
    let target = url;
    for (let hop = 0; ; hop++) {
      // http1.ts resends on a stale connection itself.
      const response =
        target.protocol === 'http:'
          ? await this.#http1.request(method, target, headers, signal, into)
          : await this.#once(method, target, headers, signal);
      const location = response.headers.location;
      if ('sunk' in response || !REDIRECTS.has(response.status) || location === undefined) return response;
      // The body of a redirect is a few bytes: read it, so the socket goes back to the pool.
      response.body.on('error', () => {}).resume();
      if (hop === MAX_REDIRECTIONS) {
        throw transportFailure(TRANSPORT_CODES.redirects, `more than ${MAX_REDIRECTIONS} redirections`);
      }
      target = new URL(location, target);
      if (target.protocol !== 'http:' && target.protocol !== 'https:') {
        throw transportFailure(TRANSPORT_CODES.redirects, `redirected to a ${target.protocol} URL`);
      }
    }
  }

  /**
   * One https request; a kept-alive socket that the server closed just before it is retried once, at
   * once.
   */
  async #once(
    method: 'GET' | 'HEAD',
    url: URL,
    headers: Record<string, string>,
    signal: AbortSignal | undefined,
  ): Promise<DirectResponse> {
    try {
      return await this.#send(method, url, headers, signal);
    } catch (error) {
      if ((error as { reusedSocket?: boolean }).reusedSocket !== true || signal?.aborted) throw error;
      return this.#send(method, url, headers, signal);
    }
  }

  #https() {
    this.#tls ??= import('node:https').then(({ default: https }) => ({
      request: https.request,
      agent: new https.Agent({ keepAlive: true, timeout: IDLE_SOCKET_MS, scheduling: 'lifo' }),
    }));
    return this.#tls;
  }

  async #send(
    method: 'GET' | 'HEAD',
    url: URL,
    headers: Record<string, string>,
    signal: AbortSignal | undefined,
  ): Promise<DirectResponse> {
    const { timeoutMs, stallTimeoutMs } = this.#options;
    const tls = await this.#https();
    return new Promise<DirectResponse>((resolve, reject) => {
      const request = tls.request(url, {
        method,
        headers,
        agent: tls.agent,
        ...(signal ? { signal } : {}),
      });
      // Connection and headers share one deadline, as the timeout the user gave says.
      // 0 is no deadline, as for http1.ts (and stall below: the socket's timeout of 0 is none).
      const deadline =
        timeoutMs > 0
          ? setTimeout(() => {
              const connecting = request.socket === null || request.socket.connecting;
              request.destroy(deadlineFailure(connecting, timeoutMs));
            }, timeoutMs)
          : undefined;
      request.on('error', (error: Error) => {
        clearTimeout(deadline);
        // Only a failure before any byte of the answer on a reused socket is safe to send again.
        const stale =
          request.reusedSocket && (error as { code?: string }).code === 'ECONNRESET' && !signal?.aborted;
        reject(stale ? Object.assign(error, { reusedSocket: true }) : error);
      });
      request.once('response', (response) => {
        clearTimeout(deadline);
        watchStall(response, stallTimeoutMs);
        resolve({ status: response.statusCode ?? 0, headers: response.headers, body: response });
      });
      request.end();
    });
  }

  /** Closes the pooled sockets: every request of the run has finished. */
  close(): void {
    void this.#tls?.then(({ agent }) => agent.destroy());
    this.#http1.close();
  }
}

/**
 * No bytes for `ms` within the body: the response is destroyed with FF_BODY_TIMEOUT. The socket's
 * idle timer is the clock; the agent sets its own again when the socket returns to the pool.
 */
function watchStall(response: IncomingMessage, ms: number): void {
  const socket = response.socket;
  if (!socket || response.complete) return;
  const onTimeout = () => response.destroy(stallFailure(ms));
  socket.setTimeout(ms);
  socket.on('timeout', onTimeout);
  response.once('close', () => socket.off('timeout', onTimeout));
}
