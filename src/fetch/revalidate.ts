import type { CacheHit } from '../cache/store.js';
import type { Fragment } from '../manifest/fragment.js';
import type { HttpClient } from '../net/http.js';
import type { JobContext } from './job.js';
import type { FetchPlan } from './observer.js';

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

/**
 * Settles the cached fragments: hits as they are, or after a conditional request (304: revalidated).
 * Returns the fragments whose entry the server replaced (200), to be downloaded again.
 */
export async function settleCached(
  plan: FetchPlan,
  mode: CacheMode,
  job: JobContext,
  warn: (message: string) => void,
): Promise<Fragment[]> {
  const { ctx, store, stats, observer } = job;
  const toAsk = new Map<string, { hit: CacheHit; group: Fragment[] }>();
  const touches: Promise<void>[] = [];
  for (const [fragment, hit] of plan.cached) {
    if (needsRevalidation(fragment, hit, mode)) {
      const pending = toAsk.get(hit.key);
      if (pending) pending.group.push(fragment);
      else toAsk.set(hit.key, { hit, group: [fragment] });
      continue;
    }
    stats.cached(fragment, hit.size);
    observer.settled?.(fragment, 'cached');
    touches.push(store.touch(hit));
  }
  const changed: Fragment[] = [];
  const asks = [...toAsk.values()].map(async ({ hit, group }, rank) => {
    const fragment = group[0]!;
    const release = await ctx.slots.acquire(rank, ctx.signal);
    const began = performance.now();
    let answer: Revalidation;
    try {
      answer = await revalidate(ctx.http, fragment, hit, ctx.signal);
    } finally {
      release();
    }
    ctx.events.request({
      fragment,
      url: answer.url,
      status: answer.status,
      range: undefined,
      bytes: 0,
      ms: performance.now() - began,
      ...(answer.outcome === 'unknown' && answer.error !== undefined ? { error: answer.error } : {}),
    });
    if (answer.outcome === 'changed') {
      changed.push(...group);
      return;
    }
    if (answer.outcome === 'unknown') {
      const why = answer.error instanceof Error ? answer.error.message : `HTTP ${answer.status}`;
      warn(`cannot revalidate ${fragment.id} (${why}); using the cached copy`);
    }
    for (const member of group) {
      if (answer.outcome === 'fresh') stats.revalidated(member, hit.size);
      else stats.cached(member, hit.size);
      observer.settled?.(member, answer.outcome === 'fresh' ? 'revalidated' : 'cached');
    }
    touches.push(store.touch(hit));
  });
  await Promise.all(asks);
  await Promise.all(touches);
  return changed;
}
