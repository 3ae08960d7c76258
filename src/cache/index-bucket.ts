// One-shot hash(): a Hash object per key and line cost more than the hashing, 2000 times a run.
import { hash } from 'node:crypto';
import { appendFile, mkdir, readFile } from 'node:fs/promises';
import { dirname, join, sep } from 'node:path';

/**
 * cacache's index buckets (its lib/entry-index.js), read and appended here so that `fetch` does not
 * load cacache: ~80 ms of every run's start, which is most of a warm run (`npm run bench`, warm).
 * A bucket holds one line per write, `\n<sha1 of the JSON>\t<JSON>`; the newest line of a key wins,
 * a line whose checksum fails is skipped (cacache does the same), and `integrity: null` deletes.
 */
export interface IndexEntry {
  key: string;
  integrity: string | null;
  time: number;
  size?: number;
  metadata?: unknown;
}

/** cacache's index bucket of a key (`index-v5/ab/cd/ef…`, its bucketPath). */
export function bucketPath(cacheDir: string, key: string): string {
  const hex = hash('sha256', key, 'hex');
  return `${folderOf(cacheDir, 'index-v5')}${hex.slice(0, 2)}${sep}${hex.slice(2, 4)}${sep}${hex.slice(4)}`;
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

/** cacache's content address of a digest (`content-v2/sha256/ab/cd/ef…`, its content/path.js). */
export function contentAddress(cacheDir: string, algorithm: string, digestBase64: string): string {
  const hex = Buffer.from(digestBase64, 'base64').toString('hex');
  return `${folderOf(cacheDir, `content-v2${sep}${algorithm}`)}${hex.slice(0, 2)}${sep}${hex.slice(2, 4)}${sep}${hex.slice(4)}`;
}

/** The content address of an integrity naming one sha digest; undefined for anything else. */
export function contentPathOf(cacheDir: string, integrity: string): string | undefined {
  const single = /^(sha(?:1|256|384|512))-([A-Za-z0-9+/]+={0,2})$/.exec(integrity.trim());
  return single ? contentAddress(cacheDir, single[1]!, single[2]!) : undefined;
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

export async function readBucket(bucket: string, key: string): Promise<BucketRead> {
  let text: string;
  try {
    text = await readFile(bucket, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { entry: undefined, damaged: 0 };
    throw error;
  }
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

export async function appendEntry(bucket: string, entry: IndexEntry): Promise<void> {
  await mkdir(dirname(bucket), { recursive: true });
  await appendFile(bucket, indexLine(entry));
}
