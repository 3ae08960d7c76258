import type { Dispatcher } from 'undici';
import { whenAborted } from '../schedule/when-aborted.js';
import {
  type BodySink,
  type Headers,
  type HttpResponse,
  type InPlaceBody,
  type InPlaceResponse,
  ResponseBody,
} from './response-body.js';
import { type MinSpeed, SpeedFloor } from './speed-floor.js';

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
 * with the status and headers, then either writes the body in place into `inPlace` (InPlaceBody)
 * or pushes it into a ResponseBody whose backpressure pauses undici — nothing is buffered beyond
 * its high-water mark (response-body.ts). A failure before the headers rejects `response`; after
 * them, it errors the body.
 */
export class ResponseHandler implements Dispatcher.DispatchHandler {
  readonly response: Promise<HttpResponse | InPlaceResponse>;
  #resolve!: (response: HttpResponse | InPlaceResponse) => void;
  #reject!: (error: Error) => void;
  readonly #inPlace: Buffer | undefined;
  #controller: Dispatcher.DispatchController | undefined;
  #answered = false;
  #ended = false;
  /** Where a streamed body's chunks go: into its ResponseBody, until it is diverted. */
  #sink: BodySink | undefined;
  #diverted = false;
  /** The end was handed to the sink: a later divert finds the body complete. */
  #delivered = false;
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
    // undici leaves the raw header Buffers on the controller: slices of the socket's read (up to
    // 64 KiB), which the controller, held for the response's life, would keep until a full
    // collection — tens of MiB of reads at 64 connections. The parsed headers are all we use.
    controller.rawHeaders = null;
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
    const body: ResponseBody = new ResponseBody(
      {
        read: () => {
          // Diverted: the sink's own backpressure decides (a read after the divert's drain too).
          if (!this.#diverted) this.#release(controller);
        },
        destroy: (error, callback) => {
          // Given up before its end (a range cut from a 200, an error): the request goes too.
          if (!this.#ended) this.#end(() => controller.abort(error ?? new Error('body given up')));
          callback(error);
        },
      },
      (sink) => this.#divert(body, sink),
    );
    // Consumers read with for-await, which sees errors; this keeps an unread body (a redirect
    // drained, a probe done) from crashing the process.
    body.on('error', () => {});
    this.#sink = {
      data: (chunk) => body.push(chunk),
      end: () => body.push(null),
      error: (error) => body.destroy(error),
    };
    this.#resolve({ status, headers, body: body as HttpResponse['body'] });
  }

  /** See `ResponseBody.divert`. */
  #divert(body: ResponseBody, sink: BodySink): () => void {
    const controller = this.#controller!;
    const resume = () => this.#release(controller);
    this.#diverted = true;
    const buffered = body.read() as Buffer | null;
    const more = buffered === null || sink.data(buffered);
    if (body.errored) sink.error(body.errored);
    else if (this.#delivered) sink.end();
    else {
      this.#sink = sink;
      // Paused by the stream's full buffer, perhaps: from now on only the sink's wish counts.
      if (more) resume();
      else this.#hold(controller);
    }
    return resume;
  }

  #hold(controller: Dispatcher.DispatchController): void {
    this.#floor?.hold();
    controller.pause();
  }

  #release(controller: Dispatcher.DispatchController): void {
    this.#floor?.release();
    controller.resume();
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
    if (this.#sink && !this.#sink.data(chunk)) this.#hold(controller);
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
        this.#delivered = true;
        this.#sink?.end();
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
      this.#sink?.error(error);
    });
  }
}
