import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { FragfetchError } from '../errors.js';
import { type Described, finishFragments, rangeFragment } from '../tensors/fragments.js';
import { layoutTensors } from '../tensors/layout.js';
import type { PriorityRule } from '../tensors/priority.js';
import { hashRanges } from '../tensors/read-local.js';
import { readTables } from '../tensors/read-tables.js';
import type { TensorTable } from '../tensors/table.js';
import type { ManifestDocument } from './document.js';
import { isHttpUrl, pathProblem } from './schema.js';
import { cannotRead, walkFiles, type WalkOptions } from './walk.js';

export interface CreateManifestOptions extends WalkOptions {
  /** Where the files will be served from; becomes the manifest's only base URL. */
  baseUrl: string;
  /** The manifest's label; defaults to the directory's name. */
  name?: string;
  /** Told what a user should know that is no error: links followed, links that lead nowhere. */
  onNotice?: (message: string) => void;
  /** One fragment per tensor (and one per header) of safetensors and GGUF files. */
  tensors?: boolean;
  /** `--priority CLASS=GLOB` rules, tried before the defaults (which apply with `tensors`). */
  priority?: readonly PriorityRule[];
  /** Told the rules and which one decided each fragment (`--explain`). */
  onExplain?: (lines: string[]) => void;
}

export type { ManifestDocument };

/**
 * Describes every file under `dir` (recursively, in code-point order of the POSIX relative path, so
 * the output is the same on every machine), leaving out what walk.ts leaves out. A symbolic link is
 * described as the file it leads to: `mirror` writes a copy where the link was.
 */
export async function createManifest(dir: string, options: CreateManifestOptions): Promise<ManifestDocument> {
  if (!isHttpUrl(options.baseUrl)) {
    throw new FragfetchError(
      'EUSAGE',
      `invalid base URL "${options.baseUrl}": expected an absolute http(s) URL`,
    );
  }
  const root = resolve(dir);
  const { paths, followed, broken } = await walkFiles(root, dir, options);
  if (followed.length > 0)
    options.onNotice?.(`followed ${count(followed, 'symbolic link')}: ${list(followed)}`);
  if (broken.length > 0)
    options.onNotice?.(`left out ${count(broken, 'symbolic link')} to nothing: ${list(broken)}`);
  if (paths.length === 0) throw new FragfetchError('EUSAGE', `no files under ${dir} to put in a manifest`);

  for (const path of paths) {
    const problem = pathProblem(path);
    if (problem !== undefined) {
      throw new FragfetchError(
        'EMANIFEST',
        `cannot describe ${JSON.stringify(path)}: a fragment path ${problem}`,
      );
    }
  }
  // Every header is read before any file is hashed: a malformed one fails in a moment, not after
  // hashing gigabytes, and nothing is written.
  const tables = options.tensors ? await readTables(root, paths) : new Map<string, TensorTable>();
  const described: Described[] = [];
  for (const path of paths) {
    const file = join(root, ...path.split('/'));
    const table = tables.get(path);
    if (table === undefined) {
      described.push({ fragment: { path, ...(await hashFile(file, path)) }, tensor: undefined });
      continue;
    }
    const ranges = layoutTensors(path, table, table.fileSize ?? 0);
    const integrities = await hashRanges(file, path, ranges);
    ranges.forEach((range, i) =>
      described.push(rangeFragment(path, range, { integrity: integrities[i] as string })),
    );
  }
  const base = { version: 1 as const, name: options.name ?? basename(root), baseUrls: [options.baseUrl] };
  return { ...base, fragments: finishFragments(described, options) };
}

function count(items: readonly string[], noun: string): string {
  return `${items.length} ${noun}${items.length === 1 ? '' : 's'}`;
}

/** The first few, so that a snapshot of 300 links is one line. */
function list(items: readonly string[], shown = 5): string {
  const head = items.slice(0, shown).join(', ');
  return items.length > shown ? `${head} and ${items.length - shown} more` : head;
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
    throw cannotRead(path, error);
  }
  return { size, integrity: `sha256-${hash.digest('base64')}` };
}
