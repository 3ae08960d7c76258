import { appendFile, mkdir, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { type BucketRead, type IndexEntry, indexLine, parseBucket } from './cacache-format.js';

/** cacache's index buckets read and appended here, so that `fetch` does not load cacache. */
export async function readBucket(bucket: string, key: string): Promise<BucketRead> {
  let text: string;
  try {
    text = await readFile(bucket, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { entry: undefined, damaged: 0 };
    throw error;
  }
  return parseBucket(text, key);
}

export async function appendEntry(bucket: string, entry: IndexEntry): Promise<void> {
  await mkdir(dirname(bucket), { recursive: true });
  await appendFile(bucket, indexLine(entry));
}
