import type { Dirent } from 'node:fs';
import { readdir, realpath, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { FragfetchError } from '../errors.js';
import { compileGlob, type Glob } from './glob.js';

/**
 * What `manifest create` never describes: fragfetch's own state (`mirror` refuses a manifest that
 * lists `.fragfetch/state.json`), version-control folders, and half-written mirror files.
 */
const SKIPPED_FOLDERS = new Set(['.fragfetch', '.git', '.hg', '.svn']);
const TEMP_SUFFIX = '.fragfetch-tmp';

export interface WalkOptions {
  /** Only files whose relative path matches one of these (all files when empty). */
  include?: readonly string[];
  /** No file whose relative path matches one of these. */
  exclude?: readonly string[];
}

export interface WalkResult {
  /** POSIX paths relative to the root, in code-point order. */
  paths: string[];
  /** Paths that were symbolic links, followed to a file or a folder. */
  followed: string[];
  /** Symbolic links that lead nowhere, left out. */
  broken: string[];
}

/**
 * Lists the files under `root`. Symbolic links are followed, to files and to folders, because a
 * Hugging Face cache snapshot is nothing but links into `blobs/`; a link back to a folder being
 * walked would never end, and is refused.
 */
export async function walkFiles(root: string, shown: string, options: WalkOptions = {}): Promise<WalkResult> {
  const include = (options.include ?? []).map(compileGlob);
  const exclude = (options.exclude ?? []).map(compileGlob);
  const result: WalkResult = { paths: [], followed: [], broken: [] };
  const walker = { root, shown, include, exclude, result };
  await walk(walker, '', [await realDir(root, shown)]);
  result.paths.sort(byCodePoint);
  result.followed.sort(byCodePoint);
  result.broken.sort(byCodePoint);
  return result;
}

interface Walker {
  root: string;
  shown: string;
  include: Glob[];
  exclude: Glob[];
  result: WalkResult;
}

async function walk(walker: Walker, prefix: string, ancestors: string[]): Promise<void> {
  const where = prefix === '' ? walker.shown : join(walker.shown, prefix);
  let entries: Dirent[];
  try {
    entries = await readdir(prefix === '' ? walker.root : fullPath(walker, prefix), { withFileTypes: true });
  } catch (error) {
    throw new FragfetchError('EUSAGE', `cannot read directory ${where}: ${describeFsError(error)}`, {
      cause: error,
    });
  }
  for (const entry of entries) {
    const path = prefix === '' ? entry.name : `${prefix}/${entry.name}`;
    let kind: 'file' | 'dir' | undefined = entry.isDirectory() ? 'dir' : entry.isFile() ? 'file' : undefined;
    if (entry.isSymbolicLink()) {
      kind = await linkKind(walker, path);
      if (kind === undefined) walker.result.broken.push(path);
      else walker.result.followed.push(path);
    }
    if (kind === 'dir') {
      if (SKIPPED_FOLDERS.has(entry.name)) continue;
      const real = await realDir(fullPath(walker, path), join(walker.shown, path));
      if (ancestors.includes(real)) {
        throw new FragfetchError(
          'EUSAGE',
          `symbolic link loop: ${join(walker.shown, path)} leads back to a folder that contains it`,
        );
      }
      await walk(walker, path, [...ancestors, real]);
    } else if (kind === 'file' && wanted(walker, path)) walker.result.paths.push(path);
  }
}

function wanted(walker: Walker, path: string): boolean {
  if (path.endsWith(TEMP_SUFFIX)) return false;
  if (walker.include.length > 0 && !walker.include.some((glob) => glob.matches(path))) return false;
  return !walker.exclude.some((glob) => glob.matches(path));
}

/** What a link leads to: undefined for nothing, or for what is neither file nor folder. */
async function linkKind(walker: Walker, path: string): Promise<'file' | 'dir' | undefined> {
  try {
    const target = await stat(fullPath(walker, path));
    return target.isDirectory() ? 'dir' : target.isFile() ? 'file' : undefined;
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === 'ELOOP') {
      throw new FragfetchError('EUSAGE', `symbolic link loop: ${join(walker.shown, path)}`, { cause: error });
    }
    if (code === 'ENOENT') return undefined;
    throw new FragfetchError(
      'EUSAGE',
      `cannot follow ${join(walker.shown, path)}: ${describeFsError(error)}`,
      { cause: error },
    );
  }
}

async function realDir(path: string, shown: string): Promise<string> {
  try {
    return await realpath(path);
  } catch (error) {
    throw new FragfetchError('EUSAGE', `cannot read directory ${shown}: ${describeFsError(error)}`, {
      cause: error,
    });
  }
}

function fullPath(walker: Walker, path: string): string {
  return join(walker.root, ...path.split('/'));
}

function byCodePoint(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** A file that could not be read, as one line: a usage error, since it is the user's input. */
export function cannotRead(shown: string, error: unknown): FragfetchError {
  return new FragfetchError('EUSAGE', `cannot read ${shown}: ${describeFsError(error)}`, { cause: error });
}

export function describeFsError(error: unknown): string {
  const code = typeof error === 'object' && error !== null && 'code' in error ? error.code : undefined;
  if (code === 'ENOENT') return 'no such file or directory';
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
  if (code === 'ENOTDIR') return 'not a directory';
  return error instanceof Error ? error.message : String(error);
}
