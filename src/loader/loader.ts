import { EventEmitter } from 'node:events';
import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { pipeline, Readable } from 'node:stream';
import { CacheStore } from '../cache/store.js';
import { defaultCacheDir } from '../cli/cache-dir.js';
import { FragfetchError, isFragfetchError } from '../errors.js';
import { type FetchObserver, type FetchOptions, fetchManifest } from '../fetch/engine.js';
import type { RequestRecord } from '../fetch/context.js';
import type { FetchReport } from '../fetch/report.js';
import type { Fragment, Manifest } from '../manifest/fragment.js';
import { loadManifest } from '../manifest/load.js';
import { orderFragments } from '../manifest/order.js';
import { parseManifest } from '../manifest/parse.js';
import { FragmentBytes } from './fragment-bytes.js';
import { FragmentReader, windows } from './fragment-reader.js';
import { MemoryTier } from './memory-tier.js';
import { type Settlement, Settlements } from './settlements.js';

/** The CLI's options, as typed fields with its defaults (see `fetchDefaults`). */
export interface LoaderOptions extends Omit<FetchOptions, 'cacheDir' | 'observer' | 'signal'> {
  /** Cache folder; default: $FRAGFETCH_CACHE, else the platform's user cache folder, as the CLI. */
  cache?: string;
  /** Ends every run of this loader. */
  signal?: AbortSignal;
  /**
   * Bytes of whole small fragments kept in memory for `stream()`'s `read()` and `bytes()`, for
   * programs that read fragments again; default 0 (none). See `Loader.memory` for its hits.
   */
  memoryCacheSize?: number;
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
  /** Its bytes, whole, in memory; from the memory tier the Buffer is shared: do not change it. */
  bytes(): Promise<Buffer>;
}

export interface ReadOptions {
  /** Overlapping windows of this many bytes instead of the stream's own chunks. */
  window?: number;
  /** Bytes from one window's start to the next's; default `window` (no overlap). */
  stride?: number;
  signal?: AbortSignal;
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
  /** Each request to an endpoint as it ends: its status, bytes, time, and error if it failed. */
  endpoint: [request: RequestRecord];
}

/**
 * The engine for programs: what `fragfetch fetch` does, and the fragments handed over in priority
 * order as each becomes ready, so a model loader can start on its critical tensors while the rest
 * downloads.
 */
export class Loader extends EventEmitter<LoaderEvents> {
  readonly options: LoaderOptions;
  readonly cacheDir: string;
  /** The memory tier (memoryCacheSize); its stats are counted apart from the disk cache's. */
  readonly memory: MemoryTier;

  constructor(options: LoaderOptions = {}) {
    super();
    this.options = options;
    this.cacheDir = options.cache ?? defaultCacheDir(process.env);
    this.memory = new MemoryTier(options.memoryCacheSize ?? 0);
  }

  /** Brings every fragment into the cache; resolves with the report `--json` prints. */
  async fetch(manifest: ManifestSource, options: { signal?: AbortSignal } = {}): Promise<FetchReport> {
    return this.#run(await this.#manifest(manifest), options.signal);
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
    const run = this.#run(parsed, signal, {
      settled: (fragment, outcome, error) =>
        settlements.settle(outcome === 'failed' ? { fragment, outcome, error } : { fragment, outcome }),
    }).finally(() =>
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
        for (let s = await settlements.next(); s; s = await settlements.next())
          yield await ready(s, store, this.memory);
      } else {
        for (const fragment of orderFragments(parsed.fragments))
          yield await ready(await settlements.of(fragment), store, this.memory);
      }
    } finally {
      stop.abort(new FragfetchError('EABORT', 'the stream was left before its end'));
      await run.catch(() => {});
    }
  }

  /**
   * One fragment's bytes, in order, while its ranges download in parallel (FragmentReader); with
   * `window`, as overlapping windows of that many bytes, each `stride` (default `window`) after the
   * last. The stream ends once the whole fragment is verified; it errors with EINTEGRITY when it is
   * not, and the bytes already read are then the caller's to drop. Destroying it stops the download.
   */
  read(manifest: ManifestSource, id: string, options: ReadOptions = {}): Readable {
    const reader = new FragmentReader(this.open(manifest, id, options));
    if (options.window === undefined) return reader;
    const windowed = windows(options.window, options.stride ?? options.window);
    pipeline(reader, windowed, () => {});
    return windowed;
  }

  /**
   * What `read` streams, read instead into the caller's own buffers (`bytes.read(buffer)`, as
   * `FileHandle.read`), for a program that copies the bytes on and can reuse its buffers; `close()`
   * stops the download. The same ends: 0 bytes once verified, EINTEGRITY when not.
   */
  open(manifest: ManifestSource, id: string, options: { signal?: AbortSignal } = {}): FragmentBytes {
    const stop = new AbortController();
    let done: Promise<void> = Promise.resolve();
    const bytes = new FragmentBytes(() => {
      stop.abort(new FragfetchError('EABORT', `the read of ${id} was given up`));
      return done;
    });
    const signal = AbortSignal.any([stop.signal, ...(options.signal ? [options.signal] : [])]);
    done = this.#readInto(bytes, manifest, id, signal).catch((error: unknown) => {
      bytes.fail(error as Error);
    });
    return bytes;
  }

  async #readInto(bytes: FragmentBytes, source: ManifestSource, id: string, signal: AbortSignal) {
    const manifest = await this.#manifest(source);
    const fragment = manifest.fragments.find((f) => f.id === id);
    if (!fragment) throw new FragfetchError('EUSAGE', `${manifest.source}: no fragment with the id "${id}"`);
    let failure: unknown;
    await this.#run({ ...manifest, fragments: [fragment] }, signal, {
      written: (_fragment, path, readyTo) => bytes.written(path, readyTo),
      retry: (_fragment, error) => {
        if (isFragfetchError(error, 'EINTEGRITY') || isFragfetchError(error, 'ECHANGED'))
          bytes.restarted(error);
      },
      settled: (_fragment, outcome, error) => {
        if (outcome === 'failed') failure = error;
      },
    });
    if (failure !== undefined) throw failure;
    if (signal.aborted) throw signal.reason;
    const hit = await new CacheStore(this.cacheDir).lookup(fragment);
    if (!hit) throw new FragfetchError('ECACHE', `${fragment.id}: downloaded but not found in the cache`);
    bytes.settled(hit.path, hit.size);
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

  #run(manifest: Manifest, signal: AbortSignal | undefined, watch: FetchObserver = {}) {
    const { cache: _cache, signal: own, memoryCacheSize: _memory, ...rest } = this.options;
    const signals = [own, signal].filter((s) => s !== undefined);
    return fetchManifest(manifest, {
      ...rest,
      cacheDir: this.cacheDir,
      ...(signals.length > 0 ? { signal: AbortSignal.any(signals) } : {}),
      observer: {
        ...watch,
        settled: (fragment, outcome, error) => {
          watch.settled?.(fragment, outcome, error);
          this.emit('fragment', fragment, outcome);
        },
        retry: (fragment, error, delayMs) => {
          watch.retry?.(fragment, error, delayMs);
          this.emit('retry', fragment, error, delayMs);
        },
        bytes: (fragment, url, bytes) => this.emit('progress', fragment, url, bytes),
        request: (record) => this.emit('endpoint', record),
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
async function ready(settlement: Settlement, store: CacheStore, memory: MemoryTier): Promise<ReadyFragment> {
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
    read: () => {
      const held = memory.capacity > 0 ? memory.get(hit.integrity) : undefined;
      return held ? Readable.from([held]) : createReadStream(hit.path);
    },
    bytes: async () => {
      if (memory.capacity === 0) return readFile(hit.path);
      const held = memory.get(hit.integrity);
      if (held) return held;
      const bytes = await readFile(hit.path);
      memory.set(hit.integrity, bytes);
      return bytes;
    },
  };
}

/** `createLoader(options)`: a Loader with the CLI's defaults for whatever is not given. */
export function createLoader(options: LoaderOptions = {}): Loader {
  return new Loader(options);
}
