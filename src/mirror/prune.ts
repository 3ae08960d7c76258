import type { Dirent } from 'node:fs';
import { readdir, realpath, unlink } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { STATE_DIR } from './layout.js';
import { code } from './paths.js';

/**
 * The entries under `root` that the manifest does not name: `--delete`'s list, in sorted order.
 * Symbolic links are never followed: a link is listed as itself (and unlinking it leaves its
 * target alone), unless it leads to a named path (`a` → `real/`, manifest names `a/x`), where
 * removing it would unmake a file just written. `.fragfetch/` (mirror state) is never listed.
 * Directories are kept, even when they end up empty, as rclone does without `--rmdirs`.
 */
export async function unnamedFiles(root: string, named: ReadonlySet<string>): Promise<string[]> {
  const ancestors = new Set<string>();
  for (const path of named) {
    const segments = path.split('/');
    for (let depth = 1; depth < segments.length; depth++) ancestors.add(segments.slice(0, depth).join('/'));
  }
  const found: string[] = [];
  const walk = async (relative: string): Promise<void> => {
    let entries: Dirent[];
    try {
      entries = await readdir(relative === '' ? root : join(root, ...relative.split('/')), {
        withFileTypes: true,
      });
    } catch (error) {
      // Gone since it was listed, or not a directory after all: nothing of ours to delete there.
      if (['ENOENT', 'ENOTDIR'].includes(code(error) ?? '')) return;
      throw error;
    }
    for (const entry of entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
      const path = relative === '' ? entry.name : `${relative}/${entry.name}`;
      if (path === STATE_DIR) continue;
      if (entry.isDirectory()) await walk(path);
      else if (!named.has(path) && !(entry.isSymbolicLink() && ancestors.has(path))) found.push(path);
    }
  };
  await walk('');
  const aliases = await aliasesOf(root, named);
  return found.filter((path) => !aliases.has(path));
}

/**
 * Paths that name, through a link kept above, a file the manifest names: with `a` → `real`, the
 * manifest's `a/x` is `real/x` on disk, which must not be deleted as unnamed.
 */
async function aliasesOf(root: string, named: ReadonlySet<string>): Promise<Set<string>> {
  const aliases = new Set<string>();
  for (const path of named) {
    const real = await realpath(join(root, ...path.split('/'))).catch(() => undefined);
    if (real === undefined) continue;
    const inside = relative(root, real).split(sep).join('/');
    if (inside !== path && !inside.startsWith('..')) aliases.add(inside);
  }
  return aliases;
}

/** Removes the listed entries (never following a link); returns those actually removed. */
export async function removeFiles(root: string, paths: readonly string[]): Promise<string[]> {
  const removed: string[] = [];
  for (const path of paths) {
    try {
      await unlink(join(root, ...path.split('/')));
      removed.push(path);
    } catch (error) {
      if (code(error) !== 'ENOENT') throw error;
    }
  }
  return removed;
}
