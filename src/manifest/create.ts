import { createHash } from 'node:crypto';
import { createReadStream, type Dirent } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { FragfetchError } from '../errors.js';
import { isHttpUrl, pathProblem } from './schema.js';

export interface CreateManifestOptions {
  /** Where the files will be served from; becomes the manifest's only base URL. */
  baseUrl: string;
  /** The manifest's label; defaults to the directory's name. */
  name?: string;
}

/** A manifest version 1 document, as written to disk. */
export interface ManifestDocument {
  version: 1;
  name: string;
  baseUrls: string[];
  fragments: { path: string; size: number; integrity: string }[];
}

/**
 * Describes every regular file under `dir` (recursively, in code-point order of the POSIX relative
 * path, so the output is the same on every machine). Symbolic links are skipped: following them could
 * describe files outside `dir` or loop, and `mirror` would write a copy where a link was.
 */
export async function createManifest(dir: string, options: CreateManifestOptions): Promise<ManifestDocument> {
  if (!isHttpUrl(options.baseUrl)) {
    throw new FragfetchError(
      'EUSAGE',
      `invalid base URL "${options.baseUrl}": expected an absolute http(s) URL`,
    );
  }
  const root = resolve(dir);
  const paths = (await listFiles(root, dir)).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  if (paths.length === 0) throw new FragfetchError('EUSAGE', `no files under ${dir} to put in a manifest`);

  const fragments: ManifestDocument['fragments'] = [];
  for (const path of paths) {
    const problem = pathProblem(path);
    if (problem !== undefined) {
      throw new FragfetchError(
        'EMANIFEST',
        `cannot describe ${JSON.stringify(path)}: a fragment path ${problem}`,
      );
    }
    fragments.push({ path, ...(await hashFile(join(root, ...path.split('/')), path)) });
  }
  return { version: 1, name: options.name ?? basename(root), baseUrls: [options.baseUrl], fragments };
}

async function listFiles(root: string, shown: string, prefix = ''): Promise<string[]> {
  let entries: Dirent[];
  try {
    entries = await readdir(prefix === '' ? root : join(root, ...prefix.split('/')), { withFileTypes: true });
  } catch (error) {
    const where = prefix === '' ? shown : join(shown, prefix);
    throw new FragfetchError('EUSAGE', `cannot read directory ${where}: ${describe(error)}`, {
      cause: error,
    });
  }
  const files: string[] = [];
  for (const entry of entries) {
    const path = prefix === '' ? entry.name : `${prefix}/${entry.name}`;
    if (entry.isDirectory()) files.push(...(await listFiles(root, shown, path)));
    else if (entry.isFile()) files.push(path);
  }
  return files;
}

/** Streams the file through sha256 so that memory stays flat whatever its size. */
async function hashFile(file: string, path: string): Promise<{ size: number; integrity: string }> {
  const hash = createHash('sha256');
  let size = 0;
  try {
    for await (const chunk of createReadStream(file)) {
      hash.update(chunk as Buffer);
      size += (chunk as Buffer).length;
    }
  } catch (error) {
    throw new FragfetchError('EUSAGE', `cannot read ${path}: ${describe(error)}`, { cause: error });
  }
  return { size, integrity: `sha256-${hash.digest('base64')}` };
}

function describe(error: unknown): string {
  const code = typeof error === 'object' && error !== null && 'code' in error ? error.code : undefined;
  if (code === 'ENOENT') return 'no such file or directory';
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
  if (code === 'ENOTDIR') return 'not a directory';
  return error instanceof Error ? error.message : String(error);
}
