import net from 'node:net';
import { Readable } from 'node:stream';
import { whenAborted } from '../schedule/when-aborted.js';
import {
  ChunkedDecoder,
  type Framing,
  framing,
  type Headers,
  headEnd,
  parseHead,
  requestHead,
} from './http1-wire.js';
import {
  deadlineFailure,
  IDLE_SOCKET_MS,
  stallFailure,
  TRANSPORT_CODES,
  type TransportOptions,
  transportFailure,
} from './transport-errors.js';

/**
 * A plain-HTTP/1.1 client on raw sockets, for direct `http:` requests: the body arrives as the
 * socket's own buffers, with no parser copying them and no stream per response but one. Draining and
 * writing 1 GiB of 16 MiB objects from nginx on loopback took 1.6–1.8 s of wall and ~1.0 s of user
 * CPU this way, against 2.2–2.6 s and ~1.6 s with Node's `http` (`npm run bench`, bulk; issue 7).
 * https: stays on Node's `https` (direct.ts), proxies on undici (http.ts).
 */
export interface Http1Response {
  status: number;
  headers: Headers;
  body: Readable;
}

/**
 * A body written straight into the caller's buffer as the socket delivers it (`request`'s `into`):
 * no stream, no chunk handed around, for the 2000 small objects of a model's tensors. Given for a
 * 200 or 206 whose Content-Length fits the buffer; any other answer comes as a stream.
 */
export interface SunkBody {
  /** Settles when the whole body is in the buffer; rejects as a streamed body would error. */
  readonly done: Promise<void>;
  /** Bytes placed so far, from the buffer's start; after a failure too (they are intact). */
  readonly received: number;
  /** Gives the body up before its end: the connection is closed. */
  cancel(): void;
}

export interface SunkResponse {
  status: number;
  headers: Headers;
  sunk: SunkBody;
}

/** What a connection's events are for: its exchange while one runs, else the end of its idle life. */
interface Listeners {
  data(chunk: Buffer): void;
  error(error: unknown): void;
  close(): void;
  end(): void;
}

const BODY_BUFFER_BYTES = 256 * 1024;
/** How a connection closed under a request looks: reset, broken pipe, or closed without an answer. */
const STALE_CODES = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED']);

/** A kept-alive connection the server had closed before our request reached it: safe to send again. */
class StaleConnection extends Error {}

/** Reads up to a response head's end land here; enough for most heads and a body's first bytes. */
const HEAD_READ_BYTES = 4096;

/**
 * The reads of a connection that serves bodies in place (SunkBody): the socket reads into the body's
 * own buffer while one is being received — no chunk allocated, nothing copied — and into a small
 * scratch buffer otherwise (the head, an error page), handed on as a view that is valid during the
 * call only: whoever keeps bytes of it copies them (a 4 KiB copy per object was most of the run's
 * garbage). Node asks for the next buffer after each read (`net.connect`'s `onread`).
 */
class InPlaceReads {
  readonly #scratch = Buffer.allocUnsafe(HEAD_READ_BYTES);
  #handed: Buffer = this.#scratch;
  /** Where the next read goes while a body is received in place. */
  target: Buffer | undefined;
  /** Takes each read: a view of the scratch buffer, or (`placed`) bytes already at the start of `target`. */
  onRead: ((chunk: Buffer, placed: boolean) => void) | undefined;

  next = (): Buffer => {
    this.#handed = this.target ?? this.#scratch;
    return this.#handed;
  };

  /** Always true: pausing is the socket's own business (`pause()` by backpressure), as elsewhere. */
  read = (length: number, buffer: Uint8Array): boolean => {
    const placed = buffer !== this.#scratch && buffer === this.#handed;
    this.onRead?.(Buffer.from(buffer.buffer, buffer.byteOffset, length), placed);
    return true;
  };
}

/**
 * A pooled connection and what it is doing. Each socket is listened to once, for good, and its
 * events go to `to`: adding and removing listeners per exchange and per return to the pool (~16
 * calls an object) showed in profiles of 2000 small objects. Its time limits are fields that one
 * sweep a client checks (Http1Client.#sweep), not timers: the connect and head deadline, the stall
 * and the idle timeout were three timers made and cleared per object, and a refresh per read.
 */
class Connection {
  readonly socket: net.Socket;
  /** The pool it goes back to: its origin, apart for connections that read in place. */
  readonly pool: string;
  readonly reads: InPlaceReads | undefined;
  to: Listeners | undefined;
  /** When (performance.now()) `expire` runs, silence or not. */
  deadline = Infinity;
  /** How long it may be silent since `heard`, ms, before `expire` runs. */
  silence = Infinity;
  /** A time from the start, not 0: a small integer here, replaced by a fraction, would cost V8 its optimized code. */
  heard = performance.now();
  expire: (() => void) | undefined;

  constructor(socket: net.Socket, pool: string, reads: InPlaceReads | undefined) {
    this.socket = socket;
    this.pool = pool;
    this.reads = reads;
  }

  /** No time limit: between an exchange and the pool. */
  unlimited(): void {
    this.deadline = Infinity;
    this.silence = Infinity;
    this.expire = undefined;
  }
}

/** How often a client looks for connections past their time: a quarter of the shortest limit. */
function sweepInterval(options: TransportOptions): number {
  const shortest = Math.min(
    IDLE_SOCKET_MS,
    ...[options.timeoutMs, options.stallTimeoutMs].filter((ms) => ms > 0),
  );
  return Math.min(1000, Math.max(10, shortest / 4));
}

/** A limit of 0 is none, as curl's and rclone's timeouts (and undici's, for proxied requests). */
function limit(ms: number): number {
  return ms > 0 ? ms : Infinity;
}

export class Http1Client {
  readonly #options: TransportOptions;
  readonly #idle = new Map<string, Connection[]>();
  readonly #all = new Set<Connection>();
  #sweeper: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(options: TransportOptions) {
    this.#options = options;
  }

  /** `into`: where a body that fits may be written directly (see SunkBody). */
  async request(
    method: 'GET' | 'HEAD',
    url: URL,
    headers: Record<string, string>,
    signal?: AbortSignal,
    into?: Buffer,
  ): Promise<Http1Response | SunkResponse> {
    // Connections that read in place are pooled apart: their reads cost a copy for streamed bodies.
    const key = into ? `${url.host} in place` : url.host;
    const idle = this.#takeIdle(key);
    try {
      return await this.#exchange(
        idle ?? this.#connect(url, key, into !== undefined),
        idle !== undefined,
        method,
        url,
        headers,
        signal,
        into,
      );
    } catch (error) {
      if (!(error instanceof StaleConnection)) throw error;
      return this.#exchange(
        this.#connect(url, key, into !== undefined),
        false,
        method,
        url,
        headers,
        signal,
        into,
      );
    }
  }

  /** Closes every connection: the run is over (or interrupted). */
  close(): void {
    this.#closed = true;
    for (const connection of this.#all) connection.socket.destroy();
    this.#all.clear();
    this.#idle.clear();
    clearInterval(this.#sweeper);
    this.#sweeper = undefined;
  }

  /** Runs what each connection past its deadline or its allowed silence has to do. */
  readonly #sweep = () => {
    const now = performance.now();
    for (const connection of this.#all) {
      const expire = connection.expire;
      if (expire && (now >= connection.deadline || now - connection.heard >= connection.silence)) {
        connection.unlimited();
        expire();
      }
    }
  };

  #connect(url: URL, pool: string, inPlace: boolean): Connection {
    const reads = inPlace ? new InPlaceReads() : undefined;
    const socket = net.connect({
      host: url.hostname.replace(/^\[(.*)\]$/, '$1'),
      port: Number(url.port) || 80,
      noDelay: true,
      ...(reads ? { onread: { buffer: reads.next, callback: reads.read } } : {}),
    });
    const connection = new Connection(socket, pool, reads);
    this.#all.add(connection);
    // Unreferenced: a pending exchange keeps the process alive through its socket, not this.
    this.#sweeper ??= setInterval(this.#sweep, sweepInterval(this.#options)).unref();
    // With no exchange and no pool to answer, an error is still listened for: never unhandled.
    socket
      .on('data', (chunk: Buffer) => connection.to?.data(chunk))
      .on('error', (error) => connection.to?.error(error))
      .on('end', () => connection.to?.end())
      .on('close', () => {
        this.#all.delete(connection);
        if (this.#all.size === 0) {
          clearInterval(this.#sweeper);
          this.#sweeper = undefined;
        }
        connection.to?.close();
      });
    return connection;
  }

  #takeIdle(key: string): Connection | undefined {
    const list = this.#idle.get(key);
    for (let connection = list?.pop(); connection; connection = list?.pop()) {
      connection.to = undefined;
      connection.unlimited();
      if (connection.reads) connection.reads.onRead = undefined;
      const socket = connection.socket;
      if (socket.destroyed || !socket.writable) continue;
      socket.ref();
      return connection;
    }
    return undefined;
  }

  #release(connection: Connection): void {
    const socket = connection.socket;
    if (this.#closed || socket.destroyed) {
      socket.destroy();
      return;
    }
    let list = this.#idle.get(connection.pool);
    if (!list) {
      list = [];
      this.#idle.set(connection.pool, list);
    }
    const pooled = list;
    const drop = () => {
      const at = pooled.indexOf(connection);
      if (at >= 0) pooled.splice(at, 1);
      socket.destroy();
    };
    // Anything from the server now (data, end, error) ends the connection's use; so does silence.
    connection.to = { data: drop, error: drop, end: drop, close: () => {} };
    if (connection.reads) connection.reads.onRead = drop;
    connection.silence = IDLE_SOCKET_MS;
    connection.heard = performance.now();
    connection.expire = drop;
    socket.unref();
    // Backpressure may have paused it on its last chunk: flowing, a close by the server is seen.
    socket.resume();
    pooled.push(connection);
  }

  /** One request and its response on a connection; the body is read as the consumer reads it. */
  #exchange(
    connection: Connection,
    reused: boolean,
    method: 'GET' | 'HEAD',
    url: URL,
    headers: Record<string, string>,
    signal: AbortSignal | undefined,
    into: Buffer | undefined,
  ): Promise<Http1Response | SunkResponse> {
    const { timeoutMs, stallTimeoutMs } = this.#options;
    return new Promise<Http1Response | SunkResponse>((resolve, reject) => {
      let pending: Buffer | undefined;
      let answered = false;
      let received = false;
      let body: Readable | undefined;
      /** Sunk mode: bytes placed in `into`, and how the body's end is told. */
      let placed = 0;
      let sunk: { resolve(): void; reject(error: Error): void } | undefined;
      let frame: Framing = { kind: 'none' };
      let remaining = 0;
      let decoder: ChunkedDecoder | undefined;
      let reusable = false;
      let finished = false;

      const { socket, reads } = connection;
      let unwatch: (() => void) | undefined;
      const detach = () => {
        connection.unlimited();
        unwatch?.();
        connection.to = undefined;
        if (reads) {
          reads.onRead = undefined;
          reads.target = undefined;
        }
      };
      /** Ends the exchange with the connection closed; false if it had already ended. */
      const abandon = (): boolean => {
        if (finished) return false;
        finished = true;
        detach();
        socket.destroy();
        return true;
      };
      /** Reads of the body in place go where its next byte belongs (InPlaceReads). */
      const aimReads = () => {
        if (reads) reads.target = into!.subarray(placed, placed + remaining);
      };
      function fail(error: unknown): void {
        if (!abandon()) return;
        if (answered) {
          const failure = error instanceof Error ? error : new Error(String(error));
          body?.destroy(failure);
          sunk?.reject(failure);
        } else if (
          reused &&
          !received &&
          !signal?.aborted &&
          STALE_CODES.has((error as { code?: string }).code ?? '')
        ) {
          reject(new StaleConnection('kept-alive connection closed', { cause: error }));
        } else {
          reject(error);
        }
      }
      const finish = () => {
        if (finished) return;
        finished = true;
        detach();
        body?.push(null);
        sunk?.resolve();
        if (reusable) this.#release(connection);
        else socket.destroy();
      };
      /** True while the bytes at hand are a view of InPlaceReads' scratch buffer, not ours to keep. */
      let transient = false;
      const deliver = (part: Buffer) => {
        if (sunk) {
          // Within bounds: a sunk body's Content-Length fits `into`, and no part exceeds what remains.
          part.copy(into!, placed);
          placed += part.length;
        } else if (part.length > 0 && body && !body.push(transient ? Buffer.from(part) : part))
          socket.pause();
      };
      const onBody = (chunk: Buffer) => {
        if (frame.kind === 'length') {
          let part = chunk;
          if (part.length > remaining) {
            // Bytes beyond the body: the connection is out of step, never reused.
            reusable = false;
            part = part.subarray(0, remaining);
          }
          remaining -= part.length;
          deliver(part);
          if (remaining === 0) finish();
        } else if (frame.kind === 'chunked') {
          const decoded = decoder!.push(chunk);
          for (const part of decoded.data) deliver(part);
          if (decoder!.done) {
            if (decoded.rest) reusable = false;
            finish();
          }
        } else {
          deliver(chunk);
        }
      };
      const onData = (chunk: Buffer): void => {
        received = true;
        connection.heard = performance.now();
        try {
          if (answered) return onBody(chunk);
          const all = pending ? Buffer.concat([pending, chunk]) : chunk;
          const end = headEnd(all);
          if (end < 0) {
            pending = transient && all === chunk ? Buffer.from(all) : all;
            return;
          }
          pending = undefined;
          const head = parseHead(all.toString('latin1', 0, end - 4));
          const rest = all.subarray(end);
          // An interim answer (100 Continue, 103 Early Hints): the real one follows.
          if (head.status >= 100 && head.status < 200) return rest.length > 0 ? onData(rest) : undefined;
          answered = true;
          // The head is in: from now on, silence is what is limited.
          connection.deadline = Infinity;
          connection.silence = limit(stallTimeoutMs);
          connection.expire = onStall;
          frame = framing(method, head);
          reusable = !head.close && frame.kind !== 'close';
          remaining = frame.kind === 'length' ? frame.length : 0;
          if (frame.kind === 'chunked') decoder = new ChunkedDecoder();
          const length = frame.kind === 'length' ? frame.length : -1;
          if (into && length >= 0 && length <= into.length && (head.status === 200 || head.status === 206)) {
            const done = new Promise<void>((resolveBody, rejectBody) => {
              sunk = { resolve: resolveBody, reject: rejectBody };
            });
            // Whoever gave the body up (cancel) no longer waits for it.
            done.catch(() => {});
            resolve({
              status: head.status,
              headers: head.headers,
              sunk: {
                done,
                get received() {
                  return placed;
                },
                cancel: () => {
                  if (abandon()) sunk?.reject(new Error('body given up'));
                },
              },
            });
          } else {
            body = new Readable({
              // As much as the consumer writes at once (segment.ts): the socket is not paused and
              // resumed (an epoll_ctl each) for every 64 KiB chunk.
              highWaterMark: BODY_BUFFER_BYTES,
              read: () => socket.resume(),
              destroy: (error, callback) => {
                // Given up before its end (a range cut from a 200, an error): the connection goes too.
                abandon();
                callback(error);
              },
            });
            // Consumers read the body with for-await, which sees its errors; this listener only keeps a
            // body nobody reads any more (a redirect drained, a probe done) from crashing the process.
            body.on('error', () => {});
            resolve({ status: head.status, headers: head.headers, body });
          }
          if (frame.kind === 'none' || length === 0) {
            if (rest.length > 0) reusable = false;
            return finish();
          }
          if (rest.length > 0) onBody(rest);
          // The rest of a body in place is read where it belongs.
          if (sunk && !finished) aimReads();
        } catch (error) {
          fail(error);
        }
      };
      /** `length` bytes read straight into `into` at `placed` (InPlaceReads). */
      const onPlaced = (length: number) => {
        received = true;
        connection.heard = performance.now();
        placed += length;
        remaining -= length;
        if (remaining === 0) finish();
        else aimReads();
      };
      const onClose = () => {
        if (answered && frame.kind === 'close') {
          reusable = false;
          finish();
        } else {
          fail(transportFailure(TRANSPORT_CODES.closed, 'the server closed the connection'));
        }
      };
      const onStall = () => fail(stallFailure(stallTimeoutMs));

      if (signal?.aborted) {
        reject(signal.reason);
        return;
      }
      if (signal) unwatch = whenAborted(signal, fail);
      if (reads) {
        reads.onRead = (chunk, placed) => {
          if (placed) return onPlaced(chunk.length);
          transient = true;
          try {
            onData(chunk);
          } finally {
            transient = false;
          }
        };
      }
      connection.to = { data: onData, error: fail, close: onClose, end: () => {} };
      // Until the head is in, connection included.
      connection.deadline = performance.now() + limit(timeoutMs);
      connection.expire = () => fail(deadlineFailure(socket.connecting, timeoutMs));
      // A connection may have gone back to the pool paused, by backpressure on its last chunk.
      socket.resume();
      try {
        socket.write(requestHead(method, url.pathname + url.search, url.host, headers));
      } catch (error) {
        fail(error);
      }
    });
  }
}
