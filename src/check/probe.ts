import { parseContentRange, parseUnsatisfiedRange } from '../net/content-range.js';
import type { HttpClient, HttpResponse } from '../net/http.js';
import { toNetworkError } from '../net/network-error.js';
import type { Observation } from './types.js';

/** What one attempt saw; the runner adds the attempt count and the total duration. */
export type Answer = Omit<Observation, 'attempts' | 'durationMs' | 'error'> & {
  /** For a retry after 429/503. */
  retryAfter?: string;
};

/** The most a probe reads of a body: a 200 to our one-byte range may be the whole object. */
export const PEEK_BYTES = 4 * 1024;

/** Statuses that mean "not this method": the same URL is asked again with HEAD. */
const METHOD_REFUSED = new Set([405, 501]);

/**
 * One probe attempt: `GET` with `Range: bytes=O-O` at the fragment's offset. A ranged GET answers
 * everything at once — status, latency, the object's length (Content-Range), whether ranges work —
 * and is what downloads send, so it tests the path they take. HEAD is the fallback for servers that
 * refuse the GET, and for a 416 that does not say the object's length.
 * Network failures are thrown as FragfetchErrors (see HttpClient); an abort throws the signal's reason.
 */
export async function probeRange(
  http: HttpClient,
  url: string,
  offset: number,
  signal: AbortSignal,
): Promise<Answer> {
  const range = `bytes=${offset}-${offset}`;
  const started = performance.now();
  const response = await http.request('GET', url, { range }, signal);
  const ttfbMs = performance.now() - started;
  const bytesRead = await peek(response, url, signal);
  const answer: Answer = { method: 'GET', range, ttfbMs, bytesRead, ...readHeaders(response, true) };
  if (METHOD_REFUSED.has(response.status) || (response.status === 416 && answer.objectLength === undefined)) {
    const head = await probeHead(http, url, signal);
    // A 416 still proves that the server parses ranges, whatever HEAD's Accept-Ranges says.
    return response.status === 416 ? { ...head, range, rangeSupported: true } : { ...head, range };
  }
  return answer;
}

async function probeHead(http: HttpClient, url: string, signal: AbortSignal): Promise<Answer> {
  const started = performance.now();
  const response = await http.request('HEAD', url, {}, signal);
  const ttfbMs = performance.now() - started;
  const bytesRead = await peek(response, url, signal);
  return { method: 'HEAD', ttfbMs, bytesRead, ...readHeaders(response, false) };
}

/**
 * What the headers say about the object. `ranged`: the request carried a Range header, so a 200
 * means the server ignored it; for HEAD, only Accept-Ranges can tell.
 */
export function readHeaders(
  response: Pick<HttpResponse, 'status' | 'headers'>,
  ranged: boolean,
): Pick<
  Answer,
  'status' | 'objectLength' | 'rangeStart' | 'rangeSupported' | 'etag' | 'lastModified' | 'retryAfter'
> {
  const { status, headers } = response;
  const out: ReturnType<typeof readHeaders> = { status };
  if (headers['retry-after'] !== undefined) out.retryAfter = headers['retry-after'];
  if (headers.etag !== undefined) out.etag = headers.etag;
  if (headers['last-modified'] !== undefined) out.lastModified = headers['last-modified'];
  if (status === 206) {
    const range = parseContentRange(headers['content-range']);
    out.rangeSupported = true;
    if (range !== undefined) out.rangeStart = range.start;
    if (range?.total !== undefined) out.objectLength = range.total;
  } else if (status === 416) {
    const total = parseUnsatisfiedRange(headers['content-range']);
    out.rangeSupported = true;
    if (total !== undefined) out.objectLength = total;
  } else if (status === 200) {
    const length = headers['content-length'];
    if (length !== undefined && /^\d+$/.test(length.trim())) out.objectLength = Number(length);
    const accept = headers['accept-ranges']?.toLowerCase();
    if (ranged) out.rangeSupported = false;
    else if (accept !== undefined) out.rangeSupported = accept.split(',').some((u) => u.trim() === 'bytes');
  }
  return out;
}

/**
 * Reads at most PEEK_BYTES of a body, then lets the socket go: a short body is read to its end so
 * the keep-alive connection is reused; a long one is destroyed rather than downloaded.
 */
export async function peek(response: HttpResponse, url: string, signal: AbortSignal): Promise<number> {
  let bytes = 0;
  try {
    for await (const chunk of response.body) {
      bytes += chunk.length;
      if (bytes >= PEEK_BYTES) break;
    }
  } catch (error) {
    throw toNetworkError(error, url, signal);
  } finally {
    if (!response.body.readableEnded) response.body.destroy();
  }
  return bytes;
}
