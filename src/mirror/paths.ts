import type { BigIntStats } from 'node:fs';
import { lstat, mkdir, readlink, realpath, stat } from 'node:fs/promises';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { FragfetchError } from '../errors.js';
import { pathProblem } from '../manifest/schema.js';

/**
 * Path safety for `mirror`: nothing is written outside `<dir>`. Three layers:
 *
 *   1. the manifest schema refuses `..`, absolute and backslash paths (checked again here);
 *   2. every target is resolved and must stay under the resolved root;
 *   3. before a file is read or written, each existing component under the root is lstat'ed: a
 *      symbolic link that resolves outside the root is refused (EPATH), one inside is followed.
 *
 * A race with a process that swaps a directory for a symlink between the check and the write is
 * not covered: Node has no openat(). The final component is never written through: files appear by
 * rename(), which replaces a link rather than following it, and temp files are created exclusively.
 */

/** The state of a target's final component, after its ancestors were found safe. */
export type TargetState =
  | { kind: 'missing' }
  | { kind: 'file'; stats: BigIntStats }
  /** A symlink (pointing inside the root) or a special file: never read, replaced on write. */
  | { kind: 'other' };

export function isInside(root: string, path: string): boolean {
  return path === root || path.startsWith(root.endsWith(sep) ? root : root + sep);
}

/** The absolute path of a manifest path under `root`, or EPATH if it would leave it. */
export function targetPath(root: string, path: string): string {
  const problem = pathProblem(path);
  const target = resolve(root, ...path.split('/'));
  if (problem !== undefined || !isInside(root, target) || target === root) {
    throw new FragfetchError('EPATH', `refusing to write ${JSON.stringify(path)}: it would escape ${root}`);
  }
  return target;
}

/**
 * Walks `path` under `root` (a realpath) without following any link out of it. Throws EPATH for an
 * escaping symlink, a component that is a file where a directory is needed, or a directory where
 * the file should be.
 */
export async function inspectTarget(root: string, path: string): Promise<TargetState> {
  const segments = path.split('/');
  let current = root;
  for (const [index, segment] of segments.entries()) {
    current = join(current, segment);
    const last = index === segments.length - 1;
    let stats: BigIntStats;
    try {
      stats = await lstat(current, { bigint: true });
    } catch (error) {
      if (code(error) === 'ENOENT') return { kind: 'missing' };
      throw pathError(path, `cannot inspect ${shown(root, current)}: ${(error as Error).message}`, error);
    }
    if (stats.isSymbolicLink()) {
      const target = await linkTarget(current);
      if (!isInside(root, target)) {
        throw pathError(path, `${shown(root, current)} is a symbolic link to ${target}, outside ${root}`);
      }
      if (last) return { kind: 'other' };
      const resolved = await stat(current).catch(() => undefined);
      if (resolved === undefined) return { kind: 'missing' };
      if (!resolved.isDirectory()) throw pathError(path, `${shown(root, current)} is not a directory`);
      continue;
    }
    if (last) {
      if (stats.isDirectory()) throw pathError(path, `${shown(root, current)} is a directory`);
      return stats.isFile() ? { kind: 'file', stats } : { kind: 'other' };
    }
    if (!stats.isDirectory()) throw pathError(path, `${shown(root, current)} is not a directory`);
  }
  return { kind: 'missing' };
}

/**
 * Creates the missing directories of `path` one component at a time, checking each as it goes (a
 * recursive mkdir would follow a planted link). Returns the absolute path of the parent directory.
 */
export async function ensureParents(root: string, path: string): Promise<string> {
  const segments = path.split('/').slice(0, -1);
  let current = root;
  for (const segment of segments) {
    current = join(current, segment);
    try {
      await mkdir(current);
      continue;
    } catch (error) {
      if (code(error) !== 'EEXIST') {
        throw pathError(path, `cannot create ${shown(root, current)}: ${(error as Error).message}`, error);
      }
    }
    const stats = await lstat(current);
    if (stats.isSymbolicLink()) {
      const target = await linkTarget(current);
      if (!isInside(root, target)) {
        throw pathError(path, `${shown(root, current)} is a symbolic link to ${target}, outside ${root}`);
      }
      if (!(await stat(current)).isDirectory())
        throw pathError(path, `${shown(root, current)} is not a directory`);
    } else if (!stats.isDirectory()) {
      throw pathError(path, `${shown(root, current)} is not a directory`);
    }
  }
  return current;
}

/**
 * The mirror root, created if missing, as a realpath (so that links inside it can be compared with
 * it). A root that exists but is not a directory is a usage error.
 */
export async function prepareRoot(dir: string, create: boolean): Promise<{ root: string; exists: boolean }> {
  const absolute = resolve(dir);
  if (create) {
    try {
      await mkdir(absolute, { recursive: true });
    } catch (error) {
      throw new FragfetchError('EUSAGE', `cannot create ${dir}: ${(error as Error).message}`, {
        cause: error,
      });
    }
  }
  let real: string;
  try {
    real = await realpath(absolute);
  } catch (error) {
    if (!create && code(error) === 'ENOENT') return { root: absolute, exists: false };
    throw new FragfetchError('EUSAGE', `cannot use ${dir}: ${(error as Error).message}`, { cause: error });
  }
  if (!(await stat(real)).isDirectory()) throw new FragfetchError('EUSAGE', `${dir} is not a directory`);
  return { root: real, exists: true };
}

/** Where a link leads: its realpath, or for a dangling link the lexical resolution of its text. */
async function linkTarget(link: string): Promise<string> {
  try {
    return await realpath(link);
  } catch {
    const text = await readlink(link);
    const parent = await realpath(dirname(link)).catch(() => dirname(link));
    return isAbsolute(text) ? resolve(text) : resolve(parent, text);
  }
}

function shown(root: string, path: string): string {
  return relative(root, path).split(sep).join('/');
}

function pathError(path: string, problem: string, cause?: unknown): FragfetchError {
  return new FragfetchError(
    'EPATH',
    `refusing to write ${path}: ${problem}`,
    cause === undefined ? {} : { cause },
  );
}

export function code(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null || !('code' in error)) return undefined;
  return typeof error.code === 'string' ? error.code : undefined;
}
