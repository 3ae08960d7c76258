import { Readable } from 'node:stream';

/** Response headers as one string each: a repeated header's values joined by ", " (RFC 9110 §5.3). */
export type Headers = Record<string, string | undefined>;

export interface HttpResponse {
  status: number;
  headers: Headers;
  body: ResponseBody & AsyncIterable<Buffer>;
}

/**
 * A streamed body read as a stream holds up to this much before undici is paused: the socket is
 * paused once while its reader is busy, not for every chunk. A diverted body's sink decides itself.
 */
const BODY_BUFFER_BYTES = 256 * 1024;

/**
 * Who takes a streamed body's chunks as undici hands them over, with no stream between them
 * (`ResponseBody.divert`): segment.ts's file writer, on the path of every large object's bytes,
 * where a Readable cost a push, a read, an async iterator step and, for chunks buffered together,
 * a copy into one buffer — per chunk. Backpressure as a stream's: `data` returning false pauses
 * the socket until the sink calls its `resume`.
 */
export interface BodySink {
  data(chunk: Buffer): boolean;
  /** The body is complete. */
  end(): void;
  /** The body failed (described as a streamed body's error would be); nothing follows. */
  error(error: Error): void;
}

/**
 * A streamed body: a Readable for whoever reads it as one, or diverted, whole, to a `BodySink`.
 * Destroying it, diverted or not, gives the request up if it has not ended.
 */
export class ResponseBody extends Readable {
  readonly #divert: (sink: BodySink) => () => void;

  constructor(
    options: { read(): void; destroy(error: Error | null, callback: (error?: Error | null) => void): void },
    divert: (sink: BodySink) => () => void,
  ) {
    super({ highWaterMark: BODY_BUFFER_BYTES, ...options });
    this.#divert = divert;
  }

  /**
   * Hands the rest of the body to `sink`: what is buffered here first, in one chunk, then each chunk
   * as it arrives, then its end or its failure. Returns the function that resumes a paused body. Only
   * for a body nobody has read from yet.
   */
  divert(sink: BodySink): () => void {
    if (this.readableFlowing) throw new Error('divert: the body is already being read');
    return this.#divert(sink);
  }
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
