import { displayUrl, FragfetchError } from '../errors.js';
import { rangeHeader } from '../net/content-range.js';
import type { HttpClient, HttpResponse, InPlaceBody, InPlaceResponse } from '../net/http.js';
import { toNetworkError } from '../net/network-error.js';
import type { RateLimiter } from '../net/rate-limit.js';
import type { DataFile } from '../receive/data-file.js';
import type { FileHasher } from '../receive/hasher.js';
import { type Asked, judgeResponse, type ObjectFacts, strongEtag, where } from './acceptance.js';
import type { Coverage } from './coverage.js';
import { SegmentWriter, type Written } from './segment-writer.js';

/** A segment's request: what it asks for (the Range header is made from it), and to whom validators go. */
export interface SegmentRequest extends Omit<Asked, 'range'> {
  /**
   * Whether the object's validators go out in If-Range: only to the endpoint that gave them. Every
   * answer is compared with them whatever its endpoint: ranges of mirrors whose validators differ
   * are never spliced.
   */
  sendValidators: boolean;
}

export interface SegmentSink {
  file: DataFile;
  coverage: Coverage;
  hasher: FileHasher;
  limiter: RateLimiter | undefined;
  signal: AbortSignal;
  /** Called per received chunk, for live bandwidth. */
  onBytes(bytes: number): void;
  /** Called after each write of `bytes` lands, so the caller can persist the coverage. */
  onWritten(bytes: number): void;
}

export interface SegmentOutcome {
  status: number;
  bytes: number;
  range: string | undefined;
}

/** One segment request, and who hears of its answer. */
export interface SegmentCall {
  http: HttpClient;
  request: SegmentRequest;
  /**
   * The object's facts as they stand now: read when the request is made and again when it is
   * answered, since another request of the object may have settled them meanwhile.
   */
  facts: () => ObjectFacts;
  sink: SegmentSink;
  /**
   * Called once the answer is accepted, before a byte of it is written, with the object's facts
   * after it: keeping them is the caller's (they are never changed here).
   */
  onAnswer: (outcome: SegmentOutcome, facts: ObjectFacts) => void;
  /** The answer to this very request, made already by the short path of small objects (small-object.ts). */
  given?: Promise<HttpResponse | InPlaceResponse>;
  /** Asked once the answer is accepted whether it may be written (object-download.ts's hedging). */
  claim?: () => boolean;
}

/**
 * One GET for [start, end) of a fragment's window, written at its offsets of the data file. Every
 * response is judged before a byte is written (acceptance.ts): a 206 must carry exactly the range
 * asked for and the validators seen before; a 200 to a range request means the server ignored Range
 * or the object changed. Either way the caller restarts the fragment: bytes of two versions are
 * never spliced.
 */
export async function fetchSegment({
  http,
  request,
  facts: currentFacts,
  sink,
  onAnswer,
  given,
  claim,
}: SegmentCall): Promise<SegmentOutcome> {
  const facts = currentFacts();
  const { url, start, objectOffset } = request;
  const end = request.end;
  const wholeInOne = start === 0 && !request.isRange && (end === undefined || end === request.declaredSize);
  const useRange = facts.ranges !== false && !wholeInOne;
  const headers: Record<string, string> = {};
  const range = useRange
    ? rangeHeader(objectOffset + start, end === undefined ? undefined : objectOffset + end)
    : undefined;
  if (range) {
    headers.range = range;
    const validator = request.sendValidators ? (strongEtag(facts.etag) ?? facts.lastModified) : undefined;
    if (validator && start > 0) headers['if-range'] = validator;
  }

  // A whole object received into memory: the transport may write its body in place (InPlaceBody).
  const inPlace =
    wholeInOne && end !== undefined && !sink.limiter && sink.file.inPlaceBuffer
      ? sink.file.inPlaceBuffer(0, end)
      : undefined;
  const response = await (given ??
    (inPlace
      ? http.requestInPlace(url, headers, sink.signal, inPlace)
      : http.request('GET', url, headers, sink.signal)));
  try {
    const verdict = judgeResponse({ ...request, range }, currentFacts(), response);
    if (verdict.kind === 'restart' || verdict.kind === 'refuse') throw verdict.error;
    const skip = verdict.kind === 'whole' ? verdict.skip : 0;
    const answeredEnd = verdict.kind === 'range' ? verdict.answeredEnd : undefined;
    // A hedged request (object-download.ts): the first acceptable answer takes the segment, in the
    // same synchronous step as its check, so a second answer never writes a byte.
    if (claim && !claim()) throw sink.signal.reason;
    const outcome = { status: response.status, bytes: 0, range };
    onAnswer(outcome, verdict.facts);
    const windowEnd = answeredEnd ?? end ?? request.declaredSize;
    const streamed =
      'inPlace' in response
        ? await receiveInPlace(response.inPlace, inPlace!, sink, url)
        : await streamToFile(response, skip, start, windowEnd, sink, url);
    const bytes = streamed.bytes;
    if (streamed.overflow && answeredEnd !== undefined) {
      // A body longer than its Content-Range: what follows the range is not the object's.
      throw new FragfetchError(
        'ERANGE',
        `${where(url, range)}: body longer than its Content-Range ${response.headers['content-range']}`,
        { url, status: response.status, expected: range, found: response.headers['content-range'] },
      );
    }
    if (streamed.overflow && !request.isRange) {
      throw new FragfetchError(
        'ESIZE',
        `GET ${displayUrl(url)}: body longer than the declared ${windowEnd} bytes`,
        {
          url,
          expected: windowEnd,
        },
      );
    }
    const expectedEnd = windowEnd ?? verdict.facts.objectSize;
    if (expectedEnd !== undefined && start + bytes < expectedEnd) {
      throw new FragfetchError(
        'ENETWORK',
        `GET ${displayUrl(url)}: body ended after ${bytes} of ${expectedEnd - start} bytes`,
        { url, expected: expectedEnd - start, found: bytes },
      );
    }
    return { ...outcome, bytes };
  } finally {
    // Stopping early (a range fragment cut from a 200, an error) must not leave the socket reading;
    // undici reports the destroy as an 'error' that nobody else is listening for.
    if ('inPlace' in response) response.inPlace.cancel();
    else if (!response.body.readableEnded) {
      response.body.on('error', () => {});
      response.body.destroy();
    }
  }
}

/** A streamed body into the data file, through a SegmentWriter (no stream in between). */
function streamToFile(
  response: HttpResponse,
  skip: number,
  start: number,
  windowEnd: number | undefined,
  sink: SegmentSink,
  url: string,
): Promise<Written> {
  const writer = new SegmentWriter({ skip, start, windowEnd }, sink, url);
  writer.attach(response.body.divert(writer));
  return writer.done;
}

/**
 * The end of a body received in place at the window's start (`buffer`): what arrived is recorded
 * once, as written — after a failure too, so that the retry resumes after it.
 */
async function receiveInPlace(
  body: InPlaceBody,
  buffer: Buffer,
  sink: SegmentSink,
  url: string,
): Promise<Written> {
  const record = () => {
    const bytes = body.received;
    if (bytes === 0) return 0;
    sink.onBytes(bytes);
    sink.file.writtenInPlace!(0, bytes);
    sink.coverage.add(0, bytes);
    sink.hasher.written(0, bytes, [buffer.subarray(0, bytes)]);
    sink.onWritten(bytes);
    return bytes;
  };
  try {
    await body.done;
  } catch (error) {
    record();
    throw toNetworkError(error, url, sink.signal);
  }
  // The transport wrote no more than the Content-Length it checked against `buffer`'s length.
  return { bytes: record(), overflow: false };
}
