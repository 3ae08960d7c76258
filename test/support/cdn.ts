/**
 * The test CDN: a real server on 127.0.0.1 (HTTP/1.1, HTTPS, or HTTP/2 over TLS) that serves
 * registered objects the way nginx serves static files (ranges, validators, keep-alive) and lets a
 * test inject faults per request.
 * Used by integration tests, `npm run demo` and the benchmark, so it must not depend on vitest.
 */
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import { STATUS_CODES } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { type BodyFault, sendBody, type SentCounter } from './cdn-body.js';
import { httpDate, ifRangeMatches, isNotModified, parseRange } from './cdn-range.js';
import {
  type CdnRequest,
  type CdnResponse,
  type CdnServer,
  type CdnTls,
  clientCertificateOf,
  clientWindowsOf,
  listenCdn,
  type ServerOptions,
} from './cdn-server.js';
import { type Body, normalisePath, type ObjectOptions, ObjectStore, type StoreOptions } from './cdn-store.js';

export type { Body, CdnTls, ObjectOptions };

/**
 * What the server serves and how. Faults on HTTP/2: `reset` sends RST_STREAM (INTERNAL_ERROR) for
 * that stream only and `truncate` ends the stream short of its Content-Length, where HTTP/1.1 cuts
 * the connection; the other faults behave the same on both.
 */
export interface CdnOptions extends StoreOptions, ServerOptions {
  /**
   * An origin that sheds load: a request that arrives while this many are being answered gets a
   * 429 (with `overloadRetryAfter` seconds in Retry-After, if given), as a CDN's rate limiter does.
   */
  overloadAbove?: number;
  overloadRetryAfter?: number;
}

export type Fault =
  | BodyFault
  | { kind: 'status'; status: number; headers?: Record<string, string>; body?: string }
  | { kind: 'ignoreRange' }
  | { kind: 'delay'; ms: number }
  | { kind: 'change'; body: Body; options?: ObjectOptions };

export interface RequestRecord {
  /** Arrival order, from 0 (the log itself is in the order responses closed). */
  seq: number;
  method: string;
  path: string;
  range?: string;
  ifRange?: string;
  ifNoneMatch?: string;
  ifModifiedSince?: string;
  /** 0 when the response was closed before its headers were sent. */
  status: number;
  /** Body bytes the socket accepted. */
  bytesSent: number;
  /** Request headers (on HTTP/2 with the pseudo-headers, `:path` and the others). */
  headers: IncomingHttpHeaders;
  /** '1.1' or '2.0'. */
  httpVersion: string;
  /** The common name of the client certificate, when the client sent one (mutual TLS). */
  clientCertificate?: string;
  /** Requests in flight at this server when this one arrived, itself included. */
  inFlightAtArrival: number;
  /** On HTTP/2: the flow-control windows the client granted, for this stream and for its connection. */
  clientWindows?: { stream: number; connection: number };
  responseHeaders: OutgoingHttpHeaders;
  fault?: Fault['kind'];
  /** The response did not complete: the client went away, a fault cut it, or the server closed. */
  aborted: boolean;
}

export interface TestCdn {
  /** `http://127.0.0.1:<port>`, or `https://…` with `tls`. */
  readonly origin: string;
  readonly port: number;
  url(path: string): string;
  /** Registers or replaces an object; replacing makes a new version (new ETag and Last-Modified). */
  set(path: string, body: Body, opts?: ObjectOptions): void;
  delete(path: string): boolean;
  /** Serves the files under `dir` at `<prefix>/<relpath>`, with nginx-style validators from stat. */
  mount(prefix: string, dir: string, opts?: { limitRate?: number }): void;
  /**
   * Applies `fault` to the next `times` requests of `path` (default 1; Infinity for all). Faults are
   * consumed in order; a HEAD leaves a body-only fault (reset, truncate, stall, corrupt) at the head
   * of the queue for the next GET.
   */
  fault(path: string, fault: Fault, opts?: { times?: number }): void;
  readonly requests: RequestRecord[];
  requestsFor(path: string): RequestRecord[];
  /** TCP connections accepted. */
  readonly connections: number;
  /**
   * Body bytes the sockets accepted: those of the responses logged since the last reset, and of
   * those still in flight. What a test counts to act in the middle of a transfer.
   */
  readonly bytesSent: number;
  /** Requests being answered now, and the most there ever were at once (since the last reset). */
  readonly inFlight: number;
  readonly peakInFlight: number;
  /** Resolves once no request is being answered, every one of them in the log: after a run, its last responses may still be closing. */
  idle(): Promise<void>;
  /** Requests received, counted as each arrives (`requests` fills as responses close). */
  readonly arrived: number;
  /**
   * Resolves once `condition` holds, checked now and again as each request arrives, as each body
   * write is accepted by its socket and as each response closes: what a test awaits instead of
   * sleeping, e.g. `until(() => cdn.arrived >= 3)` or `until(() => cdn.bytesSent >= MiB)`. Rejects
   * when the server closes first.
   */
  until(condition: () => boolean): Promise<void>;
  /** Clears the request log, the connection count and pending faults (objects stay). */
  reset(): void;
  close(): Promise<void>;
}

const BODY_ONLY = new Set<Fault['kind']>(['reset', 'truncate', 'stall', 'corrupt']);

function header(req: CdnRequest, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value.join(', ') : value;
}

function isAbort(err: unknown): boolean {
  return err instanceof Error && err.name === 'AbortError';
}

class Cdn implements TestCdn {
  readonly requests: RequestRecord[] = [];
  connections = 0;
  inFlight = 0;
  peakInFlight = 0;
  #arrived = 0;
  #idle: (() => void)[] = [];
  #waiters: { condition: () => boolean; resolve: () => void; reject: (err: Error) => void }[] = [];
  /** The byte counters of the responses in flight. */
  readonly #sending = new Set<SentCounter>();
  origin = '';
  port = 0;
  private readonly store: ObjectStore;
  private readonly faults = new Map<string, { fault: Fault; remaining: number }[]>();
  private server: CdnServer | undefined;

  constructor(private readonly options: CdnOptions) {
    this.store = new ObjectStore(options);
  }

  url(p: string): string {
    return new URL(normalisePath(p), this.origin).href;
  }

  set(p: string, body: Body, opts?: ObjectOptions): void {
    this.store.set(p, body, opts);
  }

  delete(p: string): boolean {
    return this.store.delete(p);
  }

  mount(prefix: string, dir: string, opts?: { limitRate?: number }): void {
    this.store.mount(prefix, dir, opts);
  }

  fault(p: string, fault: Fault, opts: { times?: number } = {}): void {
    const key = normalisePath(p);
    const queue = this.faults.get(key) ?? [];
    queue.push({ fault, remaining: opts.times ?? 1 });
    this.faults.set(key, queue);
  }

  get bytesSent(): number {
    let sent = 0;
    for (const record of this.requests) sent += record.bytesSent;
    for (const counter of this.#sending) sent += counter.bytesSent;
    return sent;
  }

  idle(): Promise<void> {
    if (this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  get arrived(): number {
    return this.#arrived;
  }

  until(condition: () => boolean): Promise<void> {
    if (condition()) return Promise.resolve();
    return new Promise((resolve, reject) => this.#waiters.push({ condition, resolve, reject }));
  }

  /** Settles the waiters whose condition now holds. */
  #changed(): void {
    if (this.#waiters.length === 0) return;
    const waiting = this.#waiters;
    this.#waiters = [];
    for (const waiter of waiting) {
      let holds: boolean;
      try {
        holds = waiter.condition();
      } catch (err) {
        waiter.reject(err instanceof Error ? err : new Error(String(err)));
        continue;
      }
      if (holds) waiter.resolve();
      else this.#waiters.push(waiter);
    }
  }

  requestsFor(p: string): RequestRecord[] {
    const key = normalisePath(p);
    return this.requests.filter((r) => r.path === key);
  }

  reset(): void {
    this.requests.length = 0;
    this.connections = 0;
    this.peakInFlight = this.inFlight;
    this.#arrived = 0;
    this.faults.clear();
  }

  async close(): Promise<void> {
    await this.server?.close();
    const error = new Error('the test CDN closed before the awaited condition held');
    for (const waiter of this.#waiters.splice(0)) waiter.reject(error);
  }

  async listen(): Promise<void> {
    const onRequest = (req: CdnRequest, res: CdnResponse) => this.onRequest(req, res);
    this.server = await listenCdn(this.options, onRequest, () => this.connections++);
    this.port = this.server.port;
    this.origin = `${this.server.scheme}://127.0.0.1:${this.port}`;
  }

  private takeFault(key: string, method: string): Fault | undefined {
    const queue = this.faults.get(key);
    const head = queue?.[0];
    if (!queue || !head || (method === 'HEAD' && BODY_ONLY.has(head.fault.kind))) return undefined;
    if (--head.remaining <= 0) queue.shift();
    return head.fault;
  }

  private onRequest(req: CdnRequest, res: CdnResponse): void {
    req.resume();
    const aborter = new AbortController();
    const counter: SentCounter = { bytesSent: 0, onSent: () => this.#changed() };
    const record: RequestRecord = {
      seq: this.#arrived++,
      method: req.method ?? '',
      path: new URL(req.url ?? '/', 'http://x').pathname,
      range: header(req, 'range'),
      ifRange: header(req, 'if-range'),
      ifNoneMatch: header(req, 'if-none-match'),
      ifModifiedSince: header(req, 'if-modified-since'),
      status: 0,
      bytesSent: 0,
      headers: req.headers,
      httpVersion: req.httpVersion,
      clientCertificate: clientCertificateOf(req),
      ...clientWindowsOf(req),
      responseHeaders: {},
      aborted: false,
      inFlightAtArrival: this.inFlight + 1,
    };
    this.inFlight++;
    this.peakInFlight = Math.max(this.peakInFlight, this.inFlight);
    this.#sending.add(counter);
    this.#changed();
    res.once('close', () => {
      this.inFlight--;
      this.#sending.delete(counter);
      aborter.abort();
      record.status = res.headersSent ? res.statusCode : 0;
      record.bytesSent = counter.bytesSent;
      record.responseHeaders = res.getHeaders();
      record.aborted = !res.writableFinished || counter.cut === true;
      this.requests.push(record);
      if (this.inFlight === 0) for (const resolve of this.#idle.splice(0)) resolve();
      this.#changed();
    });
    this.handle(req, res, record, counter, aborter.signal).catch((err: unknown) => {
      if (aborter.signal.aborted || isAbort(err)) return;
      if (!res.headersSent) this.sendText(req, res, 500, {}, `${String(err)}\n`, counter);
      else res.destroy();
    });
  }

  private async handle(
    req: CdnRequest,
    res: CdnResponse,
    record: RequestRecord,
    counter: { bytesSent: number },
    signal: AbortSignal,
  ): Promise<void> {
    const method = req.method ?? '';
    const head = method === 'HEAD';
    if (method !== 'GET' && !head)
      return this.sendText(req, res, 405, { allow: 'GET, HEAD' }, undefined, counter);
    let key: string;
    try {
      key = decodeURIComponent(record.path);
    } catch {
      return this.sendText(req, res, 400, {}, undefined, counter);
    }
    record.path = key;

    const { overloadAbove, overloadRetryAfter } = this.options;
    if (overloadAbove !== undefined && this.inFlight > overloadAbove) {
      const retryAfter =
        overloadRetryAfter === undefined ? {} : { 'retry-after': String(overloadRetryAfter) };
      return this.sendText(req, res, 429, retryAfter, undefined, counter);
    }
    const fault = this.takeFault(key, method);
    record.fault = fault?.kind;
    if (fault?.kind === 'delay') await sleep(fault.ms, undefined, { signal });
    if (fault?.kind === 'change') {
      const { etag: _e, lastModified: _l, ...kept } = this.store.optionsOf(key);
      this.store.set(key, fault.body, { ...kept, ...fault.options });
    }
    if (fault?.kind === 'status') {
      return this.sendText(req, res, fault.status, fault.headers ?? {}, fault.body, counter);
    }

    const object = await this.store.resolve(key);
    if (!object) return this.sendText(req, res, 404, {}, undefined, counter);

    const headers: OutgoingHttpHeaders = { 'content-type': object.contentType };
    if (object.ranges) headers['accept-ranges'] = 'bytes';
    if (object.etag !== null) headers.etag = object.etag;
    if (object.lastModified !== null) headers['last-modified'] = httpDate(object.lastModified);
    if (
      isNotModified(
        header(req, 'if-none-match'),
        header(req, 'if-modified-since'),
        object.etag,
        object.lastModified,
      )
    ) {
      res.writeHead(304, headers).end();
      return;
    }

    let start = 0;
    let length = object.size;
    let status = 200;
    const rangeHeader = header(req, 'range');
    const ifRange = header(req, 'if-range');
    if (
      object.ranges &&
      fault?.kind !== 'ignoreRange' &&
      rangeHeader !== undefined &&
      (ifRange === undefined || ifRangeMatches(ifRange, object.etag, object.lastModified))
    ) {
      const range = parseRange(rangeHeader, object.size);
      if (range.kind === 'unsatisfiable') {
        const { 'content-type': _, ...validators } = headers;
        const extra = { ...validators, 'content-range': `bytes */${object.size}` };
        return this.sendText(req, res, 416, extra, undefined, counter);
      }
      if (range.kind === 'partial') {
        status = 206;
        start = range.start;
        length = range.end - range.start + 1;
        headers['content-range'] = `bytes ${range.start}-${range.end}/${object.size}`;
      }
    }
    headers['content-length'] = length;
    res.writeHead(status, headers);
    if (head) {
      res.end();
      return;
    }
    const bodyFault = fault && BODY_ONLY.has(fault.kind) ? (fault as BodyFault) : undefined;
    const plan = { source: object.body, start, length, limitRate: object.limitRate, fault: bodyFault };
    await sendBody(res, plan, counter, signal);
  }

  private sendText(
    req: CdnRequest,
    res: CdnResponse,
    status: number,
    headers: OutgoingHttpHeaders,
    body: string | undefined,
    counter: { bytesSent: number },
  ): void {
    const noBody = status === 304 || status === 204 || status < 200;
    const data = Buffer.from(noBody ? '' : (body ?? `${status} ${STATUS_CODES[status] ?? ''}\n`));
    const all: OutgoingHttpHeaders = { 'content-type': 'text/plain; charset=utf-8', ...headers };
    if (!noBody) all['content-length'] = data.length;
    res.writeHead(status, all);
    // Node drops the body of a HEAD response itself, keeping the GET's Content-Length.
    const sent = req.method === 'HEAD' ? 0 : data.length;
    res.end(data, () => {
      counter.bytesSent += sent;
    });
  }
}

export async function startCdn(options: CdnOptions = {}): Promise<TestCdn> {
  const cdn = new Cdn(options);
  await cdn.listen();
  return cdn;
}
