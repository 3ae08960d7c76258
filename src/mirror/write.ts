import { constants } from 'node:fs';
import { chmod, copyFile, type FileHandle, link, lstat, open, rename, rm, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { createHash } from 'node:crypto';
import type { CacheHit } from '../cache/store.js';
import { FragfetchError } from '../errors.js';
import type { Fragment } from '../manifest/fragment.js';
import { NO_FOLLOW, READ_BLOCK, sha256Of } from './hash.js';
import { type FileLayout, TEMP_SUFFIX } from './layout.js';
import { code, ensureParents, inspectTarget } from './paths.js';
import { type FileRecord, type FragmentRecord, fileRecord, slotOf } from './state.js';

/**
 * `dir/.<hash of name>.fragfetch-tmp`: same directory (so rename is atomic), hidden, fixed (so a
 * re-run replaces a stale one), and 35 bytes whatever the name: `.name.fragfetch-tmp` would pass
 * the 255-byte limit of a file name for any name over 240 bytes.
 */
export function tempNameOf(name: string): string {
  return `.${createHash('sha256').update(name).digest('hex').slice(0, 20)}${TEMP_SUFFIX}`;
}

export interface WriteRequest {
  root: string;
  file: FileLayout;
  /** The fragments to bring in, each with its cache entry. */
  sources: Map<Fragment, CacheHit>;
  /** Records of ranges the local file already holds; with `base`, the new file starts as a copy of it. */
  kept: Record<string, FragmentRecord>;
  base: boolean;
  hardlink: boolean;
  signal: AbortSignal | undefined;
}

export interface WriteResult {
  record: FileRecord;
  /** Bytes of fragments put in place (a hard link counts its size). */
  bytes: number;
  linked: boolean;
}

// Reflink (copy-on-write clone) where the filesystem can (btrfs, XFS, APFS), else a plain kernel
// copy; EXCL so the temporary name is created, never written through an existing link.
const COPY_FLAGS = constants.COPYFILE_FICLONE | constants.COPYFILE_EXCL;

/**
 * Puts one file in place under `root`:
 *
 *   parents checked/created → .<hash>.fragfetch-tmp built → fsync → rename over name → fsync dir
 *
 * The final name only ever holds a complete file: an interruption leaves at most the temporary
 * name, which the next run replaces. Ancestors are re-checked here, just before writing: a symlink
 * leading out of `root` found now is an EPATH failure of this file.
 */
export async function writeMirrorFile(request: WriteRequest): Promise<WriteResult> {
  const { root, file } = request;
  const parent = await ensureParents(root, file.path);
  await inspectTarget(root, file.path);
  const name = basename(file.path);
  const final = join(parent, name);
  const temp = join(parent, tempNameOf(name));
  let moved = false;
  try {
    await rm(temp, { force: true });
    const built =
      file.kind === 'whole'
        ? await buildWhole(request, file.fragment, temp)
        : await buildRanges(request, file, final, temp);
    // No abort check here: a file built complete is worth its name; an abort stops the copy loops.
    await rename(temp, final);
    moved = true;
    await syncDirectory(parent);
    const stats = await lstat(final, { bigint: true });
    return { record: fileRecord(stats, built.records), bytes: built.bytes, linked: built.linked };
  } finally {
    if (!moved) await rm(temp, { force: true }).catch(() => undefined);
  }
}

interface Built {
  records: Record<string, FragmentRecord>;
  bytes: number;
  linked: boolean;
}

async function buildWhole(request: WriteRequest, fragment: Fragment, temp: string): Promise<Built> {
  const hit = sourceOf(request, fragment);
  let linked = false;
  if (request.hardlink) {
    try {
      await link(hit.path, temp);
      linked = true;
      // The file is the cache's own bytes: read-only, so that an editor or a script writing in place
      // fails instead of corrupting the cache entry. Best effort: the cache may belong to another user.
      await chmod(temp, 0o444).catch(() => undefined);
    } catch (error) {
      // Another filesystem, or one without hard links: copy instead, which is always correct.
      if (!['EXDEV', 'EPERM', 'EMLINK', 'ENOTSUP', 'EOPNOTSUPP'].includes(code(error) ?? '')) throw error;
    }
  }
  if (!linked) {
    await copyFile(hit.path, temp, COPY_FLAGS);
    await syncFile(temp);
  }
  const size = (await stat(temp)).size;
  if (size !== hit.size) {
    throw new FragfetchError(
      'ECACHE',
      `cache content of ${fragment.id} is ${size} bytes, expected ${hit.size}`,
      {
        expected: hit.size,
        found: size,
      },
    );
  }
  return { records: { [slotOf(fragment)]: recordOf(fragment, hit) }, bytes: size, linked };
}

async function buildRanges(
  request: WriteRequest,
  file: Extract<FileLayout, { kind: 'ranges' }>,
  final: string,
  temp: string,
): Promise<Built> {
  // Kept ranges come with the old file: a (reflinked) copy of it, then the missing ranges on top.
  if (request.base) await copyFile(final, temp, COPY_FLAGS);
  const handle = await open(
    temp,
    request.base ? constants.O_RDWR | NO_FOLLOW : constants.O_RDWR | constants.O_CREAT | constants.O_EXCL,
    0o644,
  );
  const records: Record<string, FragmentRecord> = { ...request.kept };
  let bytes = 0;
  try {
    const buffer = Buffer.allocUnsafe(READ_BLOCK);
    for (const [fragment, hit] of request.sources) {
      await copyRange(handle, fragment, hit, buffer, request.signal);
      records[slotOf(fragment)] = recordOf(fragment, hit);
      bytes += hit.size;
    }
    // Holes between ranges read as zeros; a longer old file is cut to the manifest's size.
    await handle.truncate(file.size);
    await handle.sync();
  } finally {
    await handle.close();
  }
  return { records, bytes, linked: false };
}

/**
 * Copies a cached fragment to its offset in `out`, one block at a time, hashing as it goes: the
 * bytes are read anyway, so a cache file damaged since it was stored is caught for free.
 */
async function copyRange(
  out: FileHandle,
  fragment: Fragment,
  hit: CacheHit,
  buffer: Buffer,
  signal: AbortSignal | undefined,
): Promise<void> {
  const offset = fragment.offset ?? 0;
  const hash = createHash('sha256');
  const input = await open(hit.path, constants.O_RDONLY | NO_FOLLOW);
  try {
    let done = 0;
    while (done < hit.size) {
      signal?.throwIfAborted();
      const { bytesRead } = await input.read(buffer, 0, Math.min(buffer.length, hit.size - done), done);
      if (bytesRead === 0) break;
      const chunk = buffer.subarray(0, bytesRead);
      hash.update(chunk);
      let written = 0;
      while (written < bytesRead) {
        const result = await out.write(chunk, written, bytesRead - written, offset + done + written);
        written += result.bytesWritten;
      }
      done += bytesRead;
    }
    const expected = sha256Of(hit.integrity);
    const found = hash.digest('base64');
    if (done !== hit.size || (expected !== undefined && found !== expected)) {
      throw new FragfetchError('ECACHE', `cache content of ${fragment.id} is damaged (${hit.path})`, {
        expected: hit.integrity,
        found: `sha256-${found}`,
      });
    }
  } finally {
    await input.close();
  }
}

function sourceOf(request: WriteRequest, fragment: Fragment): CacheHit {
  const hit = request.sources.get(fragment);
  if (!hit) throw new FragfetchError('ECACHE', `${fragment.id} is not in the cache`);
  return hit;
}

/** What the state remembers of a fragment just written: enough to recognise these bytes later. */
export function recordOf(fragment: Fragment, hit: CacheHit): FragmentRecord {
  const record: FragmentRecord = { size: hit.size };
  if (fragment.integrity) record.integrity = fragment.integrity.sri;
  const sha256 = sha256Of(hit.integrity);
  if (sha256 !== undefined) record.sha256 = sha256;
  if (hit.metadata?.etag !== undefined) record.etag = hit.metadata.etag;
  if (hit.metadata?.lastModified !== undefined) record.lastModified = hit.metadata.lastModified;
  return record;
}

async function syncFile(path: string): Promise<void> {
  const handle = await open(path, constants.O_RDONLY | NO_FOLLOW);
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Makes the rename durable. Best effort: some platforms (Windows) cannot open a directory. */
async function syncDirectory(dir: string): Promise<void> {
  try {
    await syncFile(dir);
  } catch {
    // The file is complete under its name either way; only durability across a power cut is at stake.
  }
}
