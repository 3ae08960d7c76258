import type { CacheHit } from '../cache/store.js';
import type { Fragment } from '../manifest/fragment.js';
import type { HttpClient } from '../net/http.js';

/**
 * How a run treats what the cache holds, as npm names it:
 * - `default`: content named by integrity is a hit; content without integrity is revalidated;
 * - `prefer-offline`: every cached entry is a hit, nothing is revalidated;
 * - `prefer-online`: every cached entry is revalidated, integrity or not;
 * - `offline`: only the cache; a missing fragment fails with EOFFLINE and nothing is requested.
 */
export type CacheMode = 'default' | 'offline' | 'prefer-offline' | 'prefer-online';

/** Whether a cached entry is asked about before it is used. */
export function needsRevalidation(fragment: Fragment, hit: CacheHit, mode: CacheMode): boolean {
  if (mode === 'offline' || mode === 'prefer-offline') return false;
  if (mode === 'prefer-online') return true;
  // Content named by its hash cannot be stale: the bytes are what the manifest asks for.
  if (fragment.integrity) return false;
  // Without a validator there is nothing to ask with; the entry is used as it is.
  return hit.metadata?.etag !== undefined || hit.metadata?.lastModified !== undefined;
}

/** The request headers of a conditional request for a cached entry (RFC 9110 §13.1). */
export function conditionalHeaders(fragment: Fragment, hit: CacheHit): Record<string, string> {
  const headers: Record<string, string> = {};
  const { etag, lastModified } = hit.metadata ?? {};
  if (etag !== undefined) headers['if-none-match'] = etag;
  // If-None-Match takes precedence when both are sent; the date still helps servers without ETags.
  if (lastModified !== undefined) headers['if-modified-since'] = lastModified;
  // A range fragment asks only for its window, so a changed answer costs little before it is dropped.
  if (fragment.offset !== undefined && fragment.size !== undefined && fragment.size > 0) {
    headers.range = `bytes=${fragment.offset}-${fragment.offset + fragment.size - 1}`;
  }
  return headers;
}

/**
 * - `fresh`: 304, the entry is still what the server serves;
 * - `changed`: the server sent content (200/206): the entry is replaced by a normal download;
 * - `unknown`: an error or another status: the entry is kept and used (as npm serves stale content
 *   when revalidation fails), with a warning.
 */
export type Revalidation =
  | { outcome: 'fresh'; url: string; status: number }
  | { outcome: 'changed'; url: string; status: number }
  | { outcome: 'unknown'; url: string; status?: number; error?: unknown };

/** Sends one conditional GET and reads no body: a changed object is fetched by the download path. */
export async function revalidate(
  http: HttpClient,
  fragment: Fragment,
  hit: CacheHit,
  signal: AbortSignal,
): Promise<Revalidation> {
  const url =
    hit.metadata?.url && fragment.urls.includes(hit.metadata.url) ? hit.metadata.url : fragment.urls[0]!;
  try {
    const response = await http.request('GET', url, conditionalHeaders(fragment, hit), signal);
    const status = response.status;
    // A 304 has no body and its connection is reused; a changed body is not read here: dropped.
    response.body.on('error', () => {});
    if (status === 304) response.body.resume();
    else response.body.destroy();
    if (status === 304) return { outcome: 'fresh', url, status };
    if (status === 200 || status === 206) return { outcome: 'changed', url, status };
    return { outcome: 'unknown', url, status };
  } catch (error) {
    if (signal.aborted) throw signal.reason ?? error;
    return { outcome: 'unknown', url, error };
  }
}
