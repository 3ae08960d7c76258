import type { Fragment } from '../manifest/fragment.js';
import type { FileLayout, RangeFragment } from './layout.js';

/** The records of a file rewritten from nothing: none, shared (they are copied, never changed). */
const NO_RECORDS: Readonly<Record<string, never>> = Object.freeze({});

/**
 * A file laid out, which is also the decision to write it from nothing with all its fragments
 * (scan.ts's `write` of a `missing` file), for a mirror into a folder that does not exist yet
 * (missingFiles): no object more per file.
 */
export abstract class LaidOutFile {
  abstract readonly needed: Fragment[];
  get file(): this {
    return this;
  }
  get action(): 'write' {
    return 'write';
  }
  get reason(): 'missing' {
    return 'missing';
  }
  get kept(): Readonly<Record<string, never>> {
    return NO_RECORDS;
  }
  get base(): false {
    return false;
  }
}

/**
 * A file that is one whole object: its path is its fragment's. A class, its kind and path shared
 * (`{ kind, path, fragment }` was 16 bytes more a file, 900k of them).
 */
export class WholeFile extends LaidOutFile {
  constructor(readonly fragment: Fragment) {
    super();
  }
  get kind(): 'whole' {
    return 'whole';
  }
  get path(): string {
    return this.fragment.path;
  }
  get needed(): Fragment[] {
    return [this.fragment];
  }
}

/** A file of byte ranges. */
export class RangesFile extends LaidOutFile {
  readonly kind = 'ranges';
  constructor(
    readonly path: string,
    readonly ranges: RangeFragment[],
    readonly size: number,
  ) {
    super();
  }
  get needed(): Fragment[] {
    return this.ranges;
  }
}

/**
 * The lists planLayout returned, each file one it made: they are the decisions as they are, with no
 * pass over every file (10^6 objects just made, not yet in any cache) to find it out.
 */
const LAID_OUT = new WeakSet<readonly FileLayout[]>();

/** `files` are planLayout's, each a file it made. */
export function markLaidOut(files: readonly FileLayout[]): void {
  LAID_OUT.add(files);
}

/** The decision to write a file from nothing, with all its fragments, that each file layout is. */
export interface MissingFile {
  file: FileLayout;
  action: 'write';
  reason: 'missing';
  needed: Fragment[];
  kept: Readonly<Record<string, never>>;
  base: false;
}

/**
 * The files of a folder that does not exist yet, as the decisions to write each from nothing:
 * the files themselves (an object per file was 29 MB more for 900k files).
 */
export function missingFiles(files: FileLayout[]): MissingFile[] {
  if (LAID_OUT.has(files) || files.every((file) => file instanceof LaidOutFile)) {
    return files as unknown as MissingFile[];
  }
  // Files laid out by hand (in code): a decision each.
  return files.map((file) => ({
    file,
    action: 'write',
    reason: 'missing',
    needed: fragmentsOf(file),
    kept: NO_RECORDS,
    base: false,
  }));
}

/** A file that is one whole object: it needs its one fragment. */
export function isWholeFile(file: FileLayout): boolean {
  return file instanceof WholeFile;
}

/** The fragments a file is made of. */
export function fragmentsOf(file: FileLayout): Fragment[] {
  return file.kind === 'whole' ? [file.fragment] : file.ranges;
}
