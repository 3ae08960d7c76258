/**
 * The test CDN: a real HTTP/1.1 server on 127.0.0.1 that serves registered objects the way nginx
 * serves static files (ranges, validators, keep-alive) and lets a test inject faults per request.
 * Used by integration tests, `npm run demo` and the benchmark, so it must not depend on vitest.
 */
import type { IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { createServer, STATUS_CODES } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { type BodyFault, sendBody } from './cdn-body.js';
import { httpDate, ifRangeMatches, isNotModified, parseRange } from './cdn-range.js';
import { type Body, type CdnOptions, normalisePath, type ObjectOptions, ObjectStore } from './cdn-store.js';

export type { Body, CdnOptions, ObjectOptions };

export type Fault =
  | BodyFault
  | { kind: 'status'; status: number; headers?: Record<string, string>; body?: string }
  | { kind: 'ignoreRange' }
  | { kind: 'delay'; ms: number }
  | { kind: 'change'; body: Body; options?: ObjectOptions };

export interface RequestRecord {
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
  /** Request headers. */
  headers: IncomingHttpHeaders;
  responseHeaders: OutgoingHttpHeaders;
  fault?: Fault['kind'];
  /** The response did not complete: the client went away, a fault cut it, or the server closed. */
  aborted: boolean;
}

export interface TestCdn {
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
  /** Clears the request log, the connection count and pending faults (objects stay). */
  reset(): void;
  close(): Promise<void>;
}

const BODY_ONLY = new Set<Fault['kind']>(['reset', 'truncate', 'stall', 'corrupt']);

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value.join(', ') : value;
}

function isAbort(err: unknown): boolean {
  return err instanceof Error && err.name === 'AbortError';
}

class Cdn implements TestCdn {
  readonly requests: RequestRecord[] = [];
  connections = 0;
  origin = '';
  port = 0;
  private readonly store: ObjectStore;
  private readonly faults = new Map<string, { fault: Fault; remaining: number }[]>();
  readonly server = createServer((req, res) => this.onRequest(req, res));

  constructor(options: CdnOptions) {
    this.store = new ObjectStore(options);
    this.server.on('connection', () => {
      this.connections++;
    });
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

  requestsFor(p: string): RequestRecord[] {
    const key = normalisePath(p);
    return this.requests.filter((r) => r.path === key);
  }

  reset(): void {
    this.requests.length = 0;
    this.connections = 0;
    this.faults.clear();
  }

  close(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.server.close((err) => {
        if (err && (err as NodeJS.ErrnoException).code !== 'ERR_SERVER_NOT_RUNNING') reject(err);
        else resolve();
      });
      // Stalled and keep-alive sockets would otherwise hold close() open.
      this.server.closeAllConnections();
    });
  }

  async listen(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(0, '127.0.0.1', () => resolve());
    });
    this.port = (this.server.address() as AddressInfo).port;
    this.origin = `http://127.0.0.1:${this.port}`;
  }

  private takeFault(key: string, method: string): Fault | undefined {
    const queue = this.faults.get(key);
    const head = queue?.[0];
    if (!queue || !head || (method === 'HEAD' && BODY_ONLY.has(head.fault.kind))) return undefined;
    if (--head.remaining <= 0) queue.shift();
    return head.fault;
  }

  private onRequest(req: IncomingMessage, res: ServerResponse): void {
    req.resume();
    const aborter = new AbortController();
    const counter = { bytesSent: 0 };
    const record: RequestRecord = {
      method: req.method ?? '',
      path: new URL(req.url ?? '/', 'http://x').pathname,
      range: header(req, 'range'),
      ifRange: header(req, 'if-range'),
      ifNoneMatch: header(req, 'if-none-match'),
      ifModifiedSince: header(req, 'if-modified-since'),
      status: 0,
      bytesSent: 0,
      headers: req.headers,
      responseHeaders: {},
      aborted: false,
    };
    res.once('close', () => {
      aborter.abort();
      record.status = res.headersSent ? res.statusCode : 0;
      record.bytesSent = counter.bytesSent;
      record.responseHeaders = res.getHeaders();
      record.aborted = !res.writableFinished;
      this.requests.push(record);
    });
    this.handle(req, res, record, counter, aborter.signal).catch((err: unknown) => {
      if (aborter.signal.aborted || isAbort(err)) return;
      if (!res.headersSent) this.sendText(res, 500, {}, `${String(err)}\n`, counter);
      else res.destroy();
    });
  }

  private async handle(
    req: IncomingMessage,
    res: ServerResponse,
    record: RequestRecord,
    counter: { bytesSent: number },
    signal: AbortSignal,
  ): Promise<void> {
    const method = req.method ?? '';
    const head = method === 'HEAD';
    if (method !== 'GET' && !head) return this.sendText(res, 405, { allow: 'GET, HEAD' }, undefined, counter);
    let key: string;
    try {
      key = decodeURIComponent(record.path);
    } catch {
      return this.sendText(res, 400, {}, undefined, counter);
    }
    record.path = key;

    const fault = this.takeFault(key, method);
    record.fault = fault?.kind;
    if (fault?.kind === 'delay') await sleep(fault.ms, undefined, { signal });
    if (fault?.kind === 'change') {
      const { etag: _e, lastModified: _l, ...kept } = this.store.optionsOf(key);
      this.store.set(key, fault.body, { ...kept, ...fault.options });
    }
    if (fault?.kind === 'status') {
      return this.sendText(res, fault.status, fault.headers ?? {}, fault.body, counter);
    }

    const object = await this.store.resolve(key);
    if (!object) return this.sendText(res, 404, {}, undefined, counter);

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
        return this.sendText(res, 416, extra, undefined, counter);
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
    res: ServerResponse,
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
    const sent = res.req.method === 'HEAD' ? 0 : data.length;
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
