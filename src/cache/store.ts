import { diskFullError, isDiskFull } from './disk-full.js';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { FragfetchError, urlWithoutCredentials } from '../errors.js';
import type { Fragment } from '../manifest/fragment.js';
import {
  type BucketRead,
  bucketPath,
  contentAddress,
  contentPathOf,
  INDEX_FOLDER,
  indexLine,
  tempPath,
} from './cacache-format.js';
import { appendEntry, readBucket } from './index-bucket.js';
import { shouldTouch } from './policy.js';
import type { CheckOutcome, StoreJob } from './store-job.js';
import { checkAndStoreObject, storeObject } from './store-writer.js';

/** What we keep beside an entry: enough to revalidate it and to tell where it came from. */
export interface EntryMetadata {
  id: string;
  url: string;
  etag?: string;
  lastModified?: string;
  offset?: number;
  manifest?: string;
}

export interface CacheHit {
  key: string;
  /** cacache's (sha256) integrity of the content. */
  integrity: string;
  size: number;
  path: string;
  metadata: EntryMetadata | undefined;
  /** When the entry was written or last used (ms since the epoch). */
  time?: number;
}

/**
 * The fragment's index key. Content with a declared integrity is named by it, so two manifests (or
 * two names in one) that declare the same bytes share one entry; other content by where it comes
 * from, without credentials: no password, no token or signature parameter, so that a URL signed
 * anew for each run names the same entry (which is revalidated, having no integrity).
 */
export function cacheKey(fragment: Fragment): string {
  if (fragment.integrity) return `fragfetch:integrity:${fragment.integrity.sri}`;
  const url = urlWithoutCredentials(fragment.urls[0] ?? fragment.path);
  const range = fragment.offset === undefined ? '' : `#${fragment.offset}+${fragment.size ?? ''}`;
  return `fragfetch:url:${url}${range}`;
}

/** cacache's content address for a sha256 digest (`content-v2/sha256/ab/cd/ef…`). */
export function contentPath(cacheDir: string, sha256Base64: string): string {
  return contentAddress(cacheDir, 'sha256', sha256Base64);
}

function storeError(fragment: Fragment, error: unknown, dir: string): FragfetchError {
  if (isDiskFull(error)) return diskFullError(dir, `storing ${fragment.id}`, error);
  return new FragfetchError(
    'ECACHE',
    `cannot store ${fragment.id} in the cache: ${(error as Error).message}`,
    {
      cause: error,
    },
  );
}

export class CacheStore {
  readonly dir: string;

  constructor(dir: string) {
    this.dir = dir;
  }

  /**
   * False when the cache has no index at all (a cold cache): then every lookup is a miss, and a plan
   * of 2000 fragments need not try to open 2000 index buckets that are not there.
   */
  async hasIndex(): Promise<boolean> {
    return (await stat(join(this.dir, INDEX_FOLDER)).catch(() => undefined))?.isDirectory() ?? false;
  }

  /**
   * The cached entry of a fragment when its content is present with the right size. A stat, never a
   * re-hash: content only ever enters the store verified, by cacache or by `insertFile`. Damage found
   * on the way (a truncated content file, an unreadable index bucket) is a miss, told to `warn`: the
   * fragment is fetched again and its entry rewritten; `cache verify` repairs the rest.
   */
  async lookup(fragment: Fragment, warn?: (message: string) => void): Promise<CacheHit | undefined> {
    const key = cacheKey(fragment);
    let read: BucketRead;
    try {
      read = await readBucket(bucketPath(this.dir, key), key);
    } catch (error) {
      warn?.(`cache index of ${fragment.id} is unreadable (${(error as Error).message}); fetching it again`);
      return undefined;
    }
    const entry = read.entry;
    const path = entry?.integrity ? contentPathOf(this.dir, entry.integrity) : undefined;
    if (!entry || !path) {
      if (read.damaged > 0) {
        warn?.(
          `cache index of ${fragment.id} is damaged; fetching it again (run \`fragfetch cache verify\`)`,
        );
      }
      return undefined;
    }
    const size = entry.size ?? -1;
    if (fragment.size !== undefined && size !== fragment.size) return undefined;
    try {
      const info = await stat(path);
      if (info.size !== size) {
        warn?.(
          `cached content of ${fragment.id} is corrupt (${info.size} bytes, expected ${size}); fetching it again`,
        );
        return undefined;
      }
    } catch {
      warn?.(`cached content of ${fragment.id} is missing; fetching it again`);
      return undefined;
    }
    return {
      key,
      integrity: entry.integrity!,
      size,
      path,
      metadata: entry.metadata as EntryMetadata | undefined,
      time: entry.time,
    };
  }

  /**
   * Records a use of a hit for least-recently-used pruning by appending a fresh index line (same
   * content, same metadata, new time), at most once per TOUCH_INTERVAL_MS. Best effort: a read-only
   * cache still serves hits.
   */
  async touch(hit: CacheHit, now = Date.now()): Promise<void> {
    if (hit.time !== undefined && !shouldTouch(hit.time, now)) return;
    await appendEntry(bucketPath(this.dir, hit.key), {
      key: hit.key,
      integrity: hit.integrity,
      time: now,
      size: hit.size,
      metadata: hit.metadata,
    }).catch(() => {});
  }

  /**
   * Stores a small object's verified bytes (held in memory): written to a temporary file, moved to
   * its content address, then the index entry (store-job.ts, on the store worker).
   */
  insertBytes(
    fragment: Fragment,
    bytes: Buffer,
    sha256Base64: string,
    metadata: EntryMetadata,
  ): Promise<CacheHit> {
    return this.#insert(
      fragment,
      { bytes, temp: tempPath(this.dir), size: bytes.length },
      sha256Base64,
      metadata,
    );
  }

  /**
   * Stores a small object's bytes held in memory whose digests are not known yet: they are hashed
   * with `algorithms` (sha256 first) and checked against the fragment's integrity on the store
   * worker, and stored only if they match: returns whether they were (nothing is written if not).
   */
  async checkAndInsert(
    fragment: Fragment,
    bytes: Buffer,
    algorithms: readonly string[],
    metadata: EntryMetadata,
  ): Promise<boolean> {
    const key = cacheKey(fragment);
    const size = bytes.length;
    const declared = fragment.integrity;
    let outcome: CheckOutcome;
    try {
      outcome = await checkAndStoreObject({
        bytes,
        cacheDir: this.dir,
        algorithms,
        expected: declared && { algorithm: declared.algorithm, digest: declared.digest },
        entry: { key, time: Date.now(), size, metadata },
      });
    } catch (error) {
      throw storeError(fragment, error, this.dir);
    }
    return outcome.stored;
  }

  /**
   * Moves an already verified file (a finished partial download, on the cache's file system) to its
   * content address and indexes it, so its bytes are written to disk once. Content already there
   * stays, and the file is removed.
   */
  insertFile(
    fragment: Fragment,
    file: string,
    sha256Base64: string,
    size: number,
    metadata: EntryMetadata,
  ): Promise<CacheHit> {
    return this.#insert(fragment, { temp: file, size }, sha256Base64, metadata);
  }

  async #insert(
    fragment: Fragment,
    content: Pick<StoreJob, 'bytes' | 'temp' | 'size'>,
    sha256Base64: string,
    metadata: EntryMetadata,
  ): Promise<CacheHit> {
    const key = cacheKey(fragment);
    const integrity = `sha256-${sha256Base64}`;
    const destination = contentPath(this.dir, sha256Base64);
    const size = content.size;
    try {
      await storeObject({
        ...content,
        destination,
        bucket: bucketPath(this.dir, key),
        line: indexLine({ key, integrity, time: Date.now(), size, metadata }),
      });
    } catch (error) {
      throw storeError(fragment, error, this.dir);
    }
    return { key, integrity, size, path: destination, metadata };
  }
}
