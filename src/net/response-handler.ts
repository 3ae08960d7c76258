import { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import { whenAborted } from '../schedule/when-aborted.js';
import { type MinSpeed, SpeedFloor } from './speed-floor.js';

/** Response headers as one string each: a repeated header's values joined by ", " (RFC 9110 §5.3). */
export type Headers = Record<string, string | undefined>;

export interface HttpResponse {
  status: number;
  headers: Headers;
  body: Readable & AsyncIterable<Buffer>;
}

/**
 * A body received in place: written straight into the caller's buffer as undici hands over each
 * chunk (`HttpClient.requestInPlace`), with no stream and no chunk kept, for the thousands of small
 * objects of a model's tensors. Given for a 200 or 206 whose Content-Length fits the buffer; any
 * other answer comes as a stream. "In place" names this one mechanism wherever it appears.
 */
export interface InPlaceBody {
  /** Settles when the whole body is in the buffer; rejects as a streamed body would error. */
  readonly done: Promise<void>;
  /** Bytes written so far, from the buffer's start; after a failure too (they are intact). */
  readonly received: number;
  /** Gives the body up before its end: the request is aborted and its connection closed. */
  cancel(): void;
}

export interface InPlaceResponse {
  status: number;
  headers: Headers;
  inPlace: InPlaceBody;
}

/**
 * A streamed body holds up to this much before undici is paused: while the consumer writes a batch
 * (segment.ts writes 512 KiB at a time), the socket is paused once, not for every chunk.
 */
const BODY_BUFFER_BYTES = 256 * 1024;

function flatten(headers: Record<string, string | string[] | undefined>): Headers {
  const out: Headers = {};
  for (const name in headers) {
    const value = headers[name];
    out[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return out;
}

/**
 * One request's answer, taken from undici's dispatcher (its handler API, v7): resolves `response`
 * with the status and headers, then either writes the body in place into `inPlace` (InPlaceBody) or pushes it into
 * a Readable whose backpressure pauses undici — nothing is buffered beyond BODY_BUFFER_BYTES. A
 * failure before the headers rejects `response`; after them, it errors the body.
 */
export class ResponseHandler implements Dispatcher.DispatchHandler {
  readonly response: Promise<HttpResponse | InPlaceResponse>;
  #resolve!: (response: HttpResponse | InPlaceResponse) => void;
  #reject!: (error: Error) => void;
  readonly #inPlace: Buffer | undefined;
  #controller: Dispatcher.DispatchController | undefined;
  #answered = false;
  #ended = false;
  #body: Readable | undefined;
  #inPlaceBytes = 0;
  #inPlaceDone: { done: Promise<void>; resolve(): void; reject(error: Error): void } | undefined;
  /** Why the request was given up before undici started it: it is aborted as soon as it starts. */
  #abandoned: Error | undefined;
  #unwatch: (() => void) | undefined;
  readonly #minSpeed: MinSpeed | undefined;
  #floor: SpeedFloor | undefined;

  readonly #describe: (error: Error) => Error;
  readonly #received: ((bytes: number) => void) | undefined;

  /**
   * `signal`: not aborted yet (callers check); its abort ends the request wherever it is.
   * `describe`: what a failure within the body becomes, for whoever reads it.
   * `received`: told of every body byte undici hands over, used or not (the run's `bytes.received`).
   * `minSpeed`: the slowest pace of the body before it is given up (speed-floor.ts).
   */
  constructor(
    inPlace: Buffer | undefined,
    signal: AbortSignal | undefined,
    describe: (error: Error) => Error,
    received?: (bytes: number) => void,
    minSpeed?: MinSpeed,
  ) {
    this.#inPlace = inPlace;
    this.#describe = describe;
    this.#received = received;
    this.#minSpeed = minSpeed;
    this.response = new Promise((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    if (signal) this.#unwatch = whenAborted(signal, (reason) => this.abort(reason as Error));
  }

  /** Ends the request: before its answer, `response` rejects with `reason`; after, the body errors. */
  abort(reason: Error): void {
    if (this.#ended) return;
    if (this.#answered) this.#fail(reason);
    else this.#end(() => this.#reject(reason));
    if (this.#controller) this.#controller.abort(reason);
    else this.#abandoned = reason;
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.#controller = controller;
    if (this.#abandoned) controller.abort(this.#abandoned);
  }

  /** Runs the one terminal step of the exchange. */
  #end(step: () => void): void {
    this.#ended = true;
    this.#unwatch?.();
    this.#floor?.stop();
    step();
  }

  onResponseStart(
    controller: Dispatcher.DispatchController,
    status: number,
    rawHeaders: Record<string, string | string[] | undefined>,
  ): void {
    // An interim answer (103 Early Hints): the real one follows.
    if (status < 200) return;
    this.#controller = controller;
    this.#answered = true;
    if (this.#minSpeed) this.#floor = new SpeedFloor(this.#minSpeed, (error) => this.abort(error));
    const headers = flatten(rawHeaders);
    const inPlace = this.#inPlace;
    const lengthText = headers['content-length'];
    const length = lengthText === undefined ? -1 : Number(lengthText);
    if (inPlace && (status === 200 || status === 206) && length >= 0 && length <= inPlace.length) {
      this.#resolve({ status, headers, inPlace: this.#bodyInPlace() });
      return;
    }
    const body = new Readable({
      highWaterMark: BODY_BUFFER_BYTES,
      read: () => {
        this.#floor?.release();
        controller.resume();
      },
      destroy: (error, callback) => {
        // Given up before its end (a range cut from a 200, an error): the request goes too.
        if (!this.#ended) this.#end(() => controller.abort(error ?? new Error('body given up')));
        callback(error);
      },
    });
    // Consumers read with for-await, which sees errors; this keeps an unread body (a redirect
    // drained, a probe done) from crashing the process.
    body.on('error', () => {});
    this.#body = body;
    this.#resolve({ status, headers, body: body as HttpResponse['body'] });
  }

  #bodyInPlace(): InPlaceBody {
    let resolve!: () => void;
    let reject!: (error: Error) => void;
    const done = new Promise<void>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    // Whoever gave the body up (cancel) no longer waits for it.
    done.catch(() => {});
    this.#inPlaceDone = { done, resolve, reject };
    const written = () => this.#inPlaceBytes;
    return {
      done,
      get received() {
        return written();
      },
      cancel: () => {
        if (this.#ended) return;
        const reason = new Error('body given up');
        this.#fail(reason);
        this.#controller?.abort(reason);
      },
    };
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    this.#received?.(chunk.length);
    if (this.#ended) return;
    this.#floor?.received(chunk.length);
    if (this.#inPlaceDone) {
      const inPlace = this.#inPlace!;
      // undici holds the body to its Content-Length, which fits; this guards the buffer regardless.
      if (this.#inPlaceBytes + chunk.length > inPlace.length) {
        const error = new Error('body longer than its Content-Length');
        this.#fail(error);
        controller.abort(error);
        return;
      }
      chunk.copy(inPlace, this.#inPlaceBytes);
      this.#inPlaceBytes += chunk.length;
      return;
    }
    if (this.#body && !this.#body.push(chunk)) {
      this.#floor?.hold();
      controller.pause();
    }
  }

  onResponseEnd(): void {
    if (this.#ended) return;
    this.#end(() => {});
    // undici hands its connection back to the pool a turn of the event loop after the response
    // ends (a setImmediate in its HTTP/1.1 client); told at once, the caller's next request would find it
    // busy and open a connection of its own — a TLS handshake each, and twice the connections.
    // That setImmediate is queued after this call returns: ours goes after it.
    process.nextTick(() =>
      setImmediate(() => {
        this.#inPlaceDone?.resolve();
        this.#body?.push(null);
      }),
    );
  }

  onResponseError(_controller: Dispatcher.DispatchController, error: Error): void {
    if (this.#ended) return;
    if (this.#answered) this.#fail(error);
    else this.#end(() => this.#reject(error));
  }

  #fail(cause: Error): void {
    if (this.#ended) return;
    const error = this.#describe(cause);
    this.#end(() => {
      this.#inPlaceDone?.reject(error);
      this.#body?.destroy(error);
    });
  }
}
