import { createHash } from 'node:crypto';
import type { Fragment } from '../manifest/fragment.js';
import { rangeHeader } from '../net/content-range.js';
import type { HttpClient } from '../net/http.js';
import { toNetworkError } from '../net/network-error.js';
import { type Answer, peek, probeRange, readHeaders } from './probe.js';

/**
 * `--deep`: one GET of the fragment's whole range, streamed through the integrity's hash and
 * dropped — nothing is written, nothing enters the cache. A 200 that ignores the range is still
 * usable: the bytes before the offset are skipped, those after the fragment are not read. The
 * classifier then compares byte count and digest with the manifest (EINTEGRITY on a mismatch).
 */
export async function probeDeep(
  http: HttpClient,
  fragment: Fragment,
  url: string,
  signal: AbortSignal,
): Promise<Answer> {
  const offset = fragment.offset ?? 0;
  const algorithm = fragment.integrity?.algorithm ?? 'sha256';
  if (fragment.size === 0) {
    // No byte to fetch: the range probe says whether the (empty) window exists.
    const answer = await probeRange(http, url, offset, signal);
    return { ...answer, deep: { bytes: 0, sri: sri(algorithm, createHash(algorithm)) } };
  }
  const end = fragment.size === undefined ? undefined : offset + fragment.size;
  const range = rangeHeader(offset, end);
  const started = performance.now();
  const response = await http.request('GET', url, { range }, signal);
  const ttfbMs = performance.now() - started;
  const headers = readHeaders(response, true);
  const base: Answer = { method: 'GET', range, ttfbMs, bytesRead: 0, ...headers };
  const { status } = response;
  if ((status !== 200 && status !== 206) || (status === 206 && headers.rangeStart !== offset)) {
    // Nothing to verify: the classifier reports the status or the wrong range.
    return { ...base, bytesRead: await peek(response, url, signal) };
  }

  const hash = createHash(algorithm);
  let skip = status === 200 ? offset : 0;
  const wanted = end === undefined ? Number.POSITIVE_INFINITY : end - offset;
  let bytes = 0;
  let received = 0;
  try {
    for await (const chunk of response.body) {
      received += chunk.length;
      let piece: Buffer = chunk;
      if (skip > 0) {
        const dropped = Math.min(skip, piece.length);
        skip -= dropped;
        piece = piece.subarray(dropped);
      }
      if (piece.length > wanted - bytes) piece = piece.subarray(0, wanted - bytes);
      hash.update(piece);
      bytes += piece.length;
      if (bytes >= wanted) break;
    }
  } catch (error) {
    throw toNetworkError(error, url, signal);
  } finally {
    if (!response.body.readableEnded) response.body.destroy();
  }
  return { ...base, bytesRead: received, deep: { bytes, sri: sri(algorithm, hash) } };
}

function sri(algorithm: string, hash: ReturnType<typeof createHash>): string {
  return `${algorithm}-${hash.digest('base64')}`;
}
