import type { PartialFiles, PartialState } from '../cache/partial.js';
import type { Fragment } from '../manifest/fragment.js';
import { type DataFile, MemoryFile, openDataFile } from '../receive/data-file.js';
import { type FileHasher, ProgressiveHasher, WholeHasher } from '../receive/hasher.js';
import type { ObjectFacts } from './acceptance.js';
import { Coverage } from './coverage.js';
import { hashAlgorithms } from './integrity.js';

/** Where one download's bytes go, and what an earlier run left there. */
export interface DownloadTarget {
  file: DataFile;
  hasher: FileHasher;
  /** What an earlier run received and saved; undefined when the download starts from nothing. */
  resumed?: { coverage: Coverage; size: number | undefined; facts: ObjectFacts };
}

/** Bytes received into memory (small objects: see download-group.ts); nothing kept from an earlier run. */
export function memoryTarget(memory: Buffer, fragment: Fragment): DownloadTarget {
  const file = new MemoryFile(memory);
  return { file, hasher: new WholeHasher(() => file.data, hashAlgorithms(fragment)) };
}

/**
 * The partial file, opened or created, with what an earlier run saved beside it under `key`. A
 * state for another size, or whose data file is gone, is dropped: the download starts over.
 */
export async function partialTarget(
  partial: PartialFiles,
  key: string,
  fragment: Fragment,
): Promise<DownloadTarget> {
  await partial.prepare();
  let state = await partial.load(key);
  if (state && fragment.size !== undefined && state.size !== fragment.size) state = undefined;
  let file: DataFile;
  try {
    file = await openDataFile(partial.dataPath, state ? 'r+' : 'w+');
  } catch {
    state = undefined;
    file = await openDataFile(partial.dataPath, 'w+');
  }
  const hasher = new ProgressiveHasher(file, hashAlgorithms(fragment), {
    path: partial.dataPath,
    ...(fragment.size === undefined ? {} : { size: fragment.size }),
  });
  if (!state) return { file, hasher };
  const coverage = new Coverage(state.spans);
  hasher.resumeFrom(coverage);
  return { file, hasher, resumed: { coverage, size: state.size, facts: factsOf(state) } };
}

function factsOf(state: PartialState): ObjectFacts {
  return {
    ...(state.url === undefined ? {} : { url: state.url }),
    ...(state.etag === undefined ? {} : { etag: state.etag }),
    ...(state.lastModified === undefined ? {} : { lastModified: state.lastModified }),
    ...(state.objectSize === undefined ? {} : { objectSize: state.objectSize }),
    ...(state.ranges === undefined ? {} : { ranges: state.ranges }),
  };
}
