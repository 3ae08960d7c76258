// One-shot hash(): a Hash object per key and line cost more than the hashing, 2000 times a run.
import { hash, randomBytes } from 'node:crypto';
import { join, sep } from 'node:path';
// Its format version, from the one place cacache keeps it: the JSON alone, not cacache's module
// graph, which is most of a warm run's start (the bundle inlines it).
import cacachePackage from 'cacache/package.json' with { type: 'json' };

/**
 * cacache's on-disk format, which fragfetch writes and reads without loading cacache on the hot path
 * (cacache's `lib/entry-index.js`, `lib/content/path.js`, `lib/util/tmp.js`):
 *
 *   <cache>/index-v5/ab/cd/ef…    index bucket: hex sha256 of the key, cut 2/2/rest
 *   <cache>/content-v2/sha256/ab/cd/ef…   content: hex of the integrity's digest, cut the same way
 *   <cache>/tmp/<unique>          where content is written before it is moved to its address
 *
 * A bucket holds one line per write, `\n<hex sha1 of the JSON>\t<JSON>`; the newest line of a key
 * wins, a line whose checksum fails is skipped, and `integrity: null` deletes the key.
 */
const VERSIONS = (cacachePackage as { 'cache-version': { index: string; content: string } })['cache-version'];
export const INDEX_FOLDER = `index-v${VERSIONS.index}`;
export const CONTENT_FOLDER = `content-v${VERSIONS.content}`;
export const TEMP_FOLDER = 'tmp';

export interface IndexEntry {
  key: string;
  integrity: string | null;
  time: number;
  size?: number;
  metadata?: unknown;
}

const FOLDERS = new Map<string, string>();

/**
 * `<cacheDir>/<sub>/`, normalised once: path.join over the whole path of every object's content
 * and bucket showed in profiles of 2000 small objects; the hex parts need no normalising.
 */
function folderOf(cacheDir: string, sub: string): string {
  const id = `${cacheDir}\0${sub}`;
  let folder = FOLDERS.get(id);
  if (folder === undefined) {
    folder = `${join(cacheDir, sub)}${sep}`;
    FOLDERS.set(id, folder);
  }
  return folder;
}

function segments(hex: string): string {
  return `${hex.slice(0, 2)}${sep}${hex.slice(2, 4)}${sep}${hex.slice(4)}`;
}

/** The index bucket of a key (cacache's bucketPath). */
export function bucketPath(cacheDir: string, key: string): string {
  return `${folderOf(cacheDir, INDEX_FOLDER)}${segments(hash('sha256', key, 'hex'))}`;
}

/** The content address of a digest (cacache's contentPath). */
export function contentAddress(cacheDir: string, algorithm: string, digestBase64: string): string {
  const hex = Buffer.from(digestBase64, 'base64').toString('hex');
  return `${folderOf(cacheDir, `${CONTENT_FOLDER}${sep}${algorithm}`)}${segments(hex)}`;
}

/** The content address of an integrity naming one sha digest; undefined for anything else. */
export function contentPathOf(cacheDir: string, integrity: string): string | undefined {
  const single = /^(sha(?:1|256|384|512))-([A-Za-z0-9+/]+={0,2})$/.exec(integrity.trim());
  return single ? contentAddress(cacheDir, single[1]!, single[2]!) : undefined;
}

/**
 * Temporary names: a random prefix per process, since a cache on a shared file system is written
 * by processes of other hosts too, then a counter (one randomUUID per object, as cacache names them,
 * showed in profiles of 2000 small objects).
 */
const TEMP_PREFIX = `${process.pid}-${randomBytes(6).toString('hex')}`;
let tempCounter = 0;

/** A fresh name under `<cache>/tmp/`, on the content's file system, so that a move is a rename. */
export function tempPath(cacheDir: string): string {
  return `${folderOf(cacheDir, TEMP_FOLDER)}${TEMP_PREFIX}-${++tempCounter}`;
}

export function indexLine(entry: IndexEntry): string {
  const json = JSON.stringify(entry);
  return `\n${hash('sha1', json, 'hex')}\t${json}`;
}

export interface BucketRead {
  /** The key's newest entry, unless it was deleted. */
  entry: IndexEntry | undefined;
  /** Lines whose checksum or JSON failed: a bucket that yields nothing yet has these was damaged. */
  damaged: number;
}

/** A bucket's text, read as cacache's `find` reads it. */
export function parseBucket(text: string, key: string): BucketRead {
  let entry: IndexEntry | undefined;
  let damaged = 0;
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const tab = line.indexOf('\t');
    const json = line.slice(tab + 1);
    if (tab < 0 || hash('sha1', json, 'hex') !== line.slice(0, tab)) {
      damaged++;
      continue;
    }
    let parsed: IndexEntry;
    try {
      parsed = JSON.parse(json) as IndexEntry;
    } catch {
      damaged++;
      continue;
    }
    if (parsed?.key === key) entry = parsed;
  }
  return { entry: entry?.integrity ? entry : undefined, damaged };
}
