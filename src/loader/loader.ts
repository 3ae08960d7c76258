import { EventEmitter } from 'node:events';
import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { CacheStore } from '../cache/store.js';
import { defaultCacheDir } from '../cli/cache-dir.js';
import { FragfetchError } from '../errors.js';
import { type FetchOptions, fetchManifest } from '../fetch/engine.js';
import type { FetchReport } from '../fetch/report.js';
import type { Fragment, Manifest } from '../manifest/fragment.js';
import { loadManifest } from '../manifest/load.js';
import { orderFragments } from '../manifest/order.js';
import { parseManifest } from '../manifest/parse.js';
import { type Settlement, Settlements } from './settlements.js';

/** The CLI's options, as typed fields with its defaults (see `fetchDefaults`). */
export interface LoaderOptions extends Omit<FetchOptions, 'cacheDir' | 'observer' | 'signal'> {
  /** Cache folder; default: $FRAGFETCH_CACHE, else the platform's user cache folder, as the CLI. */
  cache?: string;
  /** Ends every run of this loader. */
  signal?: AbortSignal;
}

/** A manifest: a file path, an http(s) URL, a parsed Manifest, or a manifest document (its JSON). */
export type ManifestSource = string | Manifest | Record<string, unknown>;

/** A fragment in the cache, ready to be read. */
export interface ReadyFragment {
  id: string;
  path: string;
  offset: number | undefined;
  size: number;
  integrity: string | undefined;
  /** True when it was in the cache before this run (or revalidated); false when just downloaded. */
  cached: boolean;
  /** Its bytes, streamed from the cache. */
  read(): Readable;
  /** Its bytes, whole, in memory. */
  bytes(): Promise<Buffer>;
}

export interface StreamOptions {
  /**
   * `priority` (default): in download order (priority, importance, manifest order), each as soon
   * as it and every one before it are ready; `ready`: each as soon as it is.
   */
  order?: 'priority' | 'ready';
  signal?: AbortSignal;
}

/** What a loader tells as it works; `on(name, listener)` with these names and arguments. */
export interface LoaderEvents {
  fragment: [fragment: Fragment, outcome: Settlement['outcome']];
  retry: [fragment: Fragment, error: unknown, delayMs: number];
  progress: [fragment: Fragment, url: string, bytes: number];
}

/**
 * The engine for programs: what `fragfetch fetch` does, and the fragments handed over in priority
 * order as each becomes ready, so a model loader can start on its critical tensors while the rest
 * downloads.
 */
export class Loader extends EventEmitter<LoaderEvents> {
  readonly options: LoaderOptions;
  readonly cacheDir: string;

  constructor(options: LoaderOptions = {}) {
    super();
    this.options = options;
    this.cacheDir = options.cache ?? defaultCacheDir(process.env);
  }

  /** Brings every fragment into the cache; resolves with the report `--json` prints. */
  async fetch(manifest: ManifestSource, options: { signal?: AbortSignal } = {}): Promise<FetchReport> {
    return this.#run(await this.#manifest(manifest), undefined, options.signal);
  }

  /**
   * The manifest's fragments as they become ready (see StreamOptions.order). A failed fragment
   * throws its coded error where it would have been yielded; leaving the loop early aborts the rest.
   */
  async *stream(manifest: ManifestSource, options: StreamOptions = {}): AsyncGenerator<ReadyFragment> {
    const parsed = await this.#manifest(manifest);
    const settlements = new Settlements();
    const stop = new AbortController();
    const signal = AbortSignal.any([stop.signal, ...(options.signal ? [options.signal] : [])]);
    const run = this.#run(parsed, settlements, signal).finally(() =>
      settlements.close(
        new FragfetchError('EABORT', 'the run ended before this fragment was ready'),
        parsed.fragments,
      ),
    );
    // The run's own failure surfaces through the fragments it leaves unsettled, not as a rejection here.
    run.catch(() => {});
    const store = new CacheStore(this.cacheDir);
    try {
      if (options.order === 'ready') {
        for (let s = await settlements.next(); s; s = await settlements.next()) yield await ready(s, store);
      } else {
        for (const fragment of orderFragments(parsed.fragments))
          yield await ready(await settlements.of(fragment), store);
      }
    } finally {
      stop.abort(new FragfetchError('EABORT', 'the stream was left before its end'));
      await run.catch(() => {});
    }
  }

  async #manifest(source: ManifestSource): Promise<Manifest> {
    if (typeof source === 'string')
      return loadManifest(source, {
        ...(this.options.headers ? { headers: this.options.headers } : {}),
        ...(this.options.timeoutMs === undefined ? {} : { timeoutMs: this.options.timeoutMs }),
        network: this.options.network,
      });
    if (isManifest(source)) return source;
    return parseManifest(source, 'manifest object');
  }

  #run(manifest: Manifest, settlements: Settlements | undefined, signal: AbortSignal | undefined) {
    const { cache: _cache, signal: own, ...rest } = this.options;
    const signals = [own, signal].filter((s) => s !== undefined);
    return fetchManifest(manifest, {
      ...rest,
      cacheDir: this.cacheDir,
      ...(signals.length > 0 ? { signal: AbortSignal.any(signals) } : {}),
      observer: {
        settled: (fragment, outcome, error) => {
          settlements?.settle(outcome === 'failed' ? { fragment, outcome, error } : { fragment, outcome });
          this.emit('fragment', fragment, outcome);
        },
        retry: (fragment, error, delayMs) => this.emit('retry', fragment, error, delayMs),
        bytes: (fragment, url, bytes) => this.emit('progress', fragment, url, bytes),
      },
    });
  }
}

function isManifest(source: Manifest | Record<string, unknown>): source is Manifest {
  const fragments = (source as { fragments?: unknown }).fragments;
  return (
    typeof (source as { source?: unknown }).source === 'string' &&
    Array.isArray(fragments) &&
    fragments.every((f) => Array.isArray((f as { urls?: unknown }).urls))
  );
}

/** A settled fragment as the caller gets it: its bytes where the cache holds them, or its error. */
async function ready(settlement: Settlement, store: CacheStore): Promise<ReadyFragment> {
  if (settlement.outcome === 'failed') throw settlement.error;
  const { fragment } = settlement;
  const hit = await store.lookup(fragment);
  if (!hit)
    throw new FragfetchError('ECACHE', `${fragment.id}: settled but not found in the cache`, {
      url: fragment.urls[0],
    });
  return {
    id: fragment.id,
    path: fragment.path,
    offset: fragment.offset,
    size: hit.size,
    integrity: fragment.integrity?.sri ?? hit.integrity,
    cached: settlement.outcome !== 'downloaded',
    read: () => createReadStream(hit.path),
    bytes: () => readFile(hit.path),
  };
}

/** `createLoader(options)`: a Loader with the CLI's defaults for whatever is not given. */
export function createLoader(options: LoaderOptions = {}): Loader {
  return new Loader(options);
}
