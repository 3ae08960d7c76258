import type { BigIntStats } from 'node:fs';
import type { CacheStore } from '../cache/store.js';
import { FragfetchError } from '../errors.js';
import type { Fragment } from '../manifest/fragment.js';
import { hashRange, sha256Of } from './hash.js';
import { fragmentsOf } from './laid-out-file.js';
import type { FileLayout } from './layout.js';
import { inspectTarget, targetPath } from './paths.js';
import {
  type FileRecord,
  type FragmentRecord,
  fileRecord,
  type MirrorState,
  slotOf,
  unchangedSince,
} from './state.js';

/** What a file under `<dir>` needs, decided before anything is fetched. */
export type FileDecision =
  | { action: 'unchanged'; file: FileLayout; record: FileRecord }
  | {
      action: 'write';
      file: FileLayout;
      /** `missing`: no file there; `replace`: a link or special file there; `differs`: wrong bytes or size. */
      reason: 'missing' | 'replace' | 'differs';
      /** Fragments to bring from the cache (fetched first when not cached). */
      needed: Fragment[];
      /** Records of the ranges the local file already holds, carried over when it is rewritten. */
      kept: Record<string, FragmentRecord>;
      /** The local file holds ranges worth keeping: the new version starts as a copy of it. */
      base: boolean;
    }
  | { action: 'refused'; file: FileLayout; error: FragfetchError };

export interface ScanOptions {
  /** Re-hash local files even when size, mtime and inode match the state (rclone's --checksum). */
  checksum?: boolean;
  signal?: AbortSignal;
}

/**
 * Decides whether the local copy of `file` matches the manifest. Costs no request: a fragment with
 * integrity is checked by hashing the local bytes (or trusted through the state's fast path); one
 * without is compared with the sha256 of what the cache holds for it, else with what this mirror
 * recorded when it wrote it.
 */
export async function scanFile(
  root: string,
  file: FileLayout,
  state: MirrorState,
  store: CacheStore,
  options: ScanOptions = {},
): Promise<FileDecision> {
  const fragments = fragmentsOf(file);
  const writeAll = (reason: 'missing' | 'replace' | 'differs'): FileDecision => ({
    action: 'write',
    file,
    reason,
    needed: fragments,
    kept: {},
    base: false,
  });
  let target: Awaited<ReturnType<typeof inspectTarget>>;
  try {
    targetPath(root, file.path);
    target = await inspectTarget(root, file.path);
  } catch (error) {
    if (error instanceof FragfetchError) return { action: 'refused', file, error };
    throw error;
  }
  if (target.kind !== 'file') return writeAll(target.kind === 'missing' ? 'missing' : 'replace');

  const local = targetPath(root, file.path);
  const record = state.get(file.path);
  const fast = !options.checksum && unchangedSince(record, target.stats);
  const matched: Record<string, FragmentRecord> = {};
  const needed: Fragment[] = [];
  for (const fragment of fragments) {
    const slot = slotOf(fragment);
    const match = await matchFragment(
      local,
      target.stats,
      fragment,
      fast ? record?.fragments[slot] : undefined,
      {
        recorded: record?.fragments[slot],
        store,
        signal: options.signal,
      },
    );
    if (match) matched[slot] = match;
    else needed.push(fragment);
  }

  const size = Number(target.stats.size);
  const sizeRight = file.kind === 'whole' || size === file.size;
  if (needed.length === 0 && sizeRight) {
    return { action: 'unchanged', file, record: fileRecord(target.stats, matched) };
  }
  if (file.kind === 'whole') return writeAll('differs');
  return {
    action: 'write',
    file,
    reason: 'differs',
    needed,
    kept: matched,
    base: needed.length < fragments.length,
  };
}

interface MatchContext {
  /** The state's record for this fragment, whatever the file's stat says. */
  recorded: FragmentRecord | undefined;
  store: CacheStore;
  signal: AbortSignal | undefined;
}

/**
 * The record of `fragment` when the local file holds it, else undefined. `trusted` is the state's
 * record when the fast path applies (the file is as this mirror left it).
 */
async function matchFragment(
  local: string,
  stats: BigIntStats,
  fragment: Fragment,
  trusted: FragmentRecord | undefined,
  { recorded, store, signal }: MatchContext,
): Promise<FragmentRecord | undefined> {
  const fileSize = Number(stats.size);
  const start = fragment.offset ?? 0;
  const size = fragment.offset === undefined ? fileSize : (fragment.size ?? 0);
  if (fragment.size !== undefined && size !== fragment.size) return undefined;
  if (start + size > fileSize) return undefined;

  const integrity = fragment.integrity;
  if (integrity) {
    // Validators and digest recorded for these very bytes are kept; a record of other bytes is not.
    const record: FragmentRecord =
      recorded?.integrity === integrity.sri ? { ...recorded, size } : { size, integrity: integrity.sri };
    if (trusted?.integrity === integrity.sri && trusted.size === size) return record;
    const digest = await hashRange(local, integrity.algorithm, start, size, signal);
    if (digest !== integrity.digest) return undefined;
    if (integrity.algorithm === 'sha256') record.sha256 = digest;
    return record;
  }

  // No integrity: the cache is the freshest word on what the remote object is; then our own record.
  const hit = await store.lookup(fragment);
  const expected = hit ? sha256Of(hit.integrity) : recorded?.sha256;
  if (expected === undefined) return undefined;
  if (!hit && recorded?.size !== size) return undefined;
  const record: FragmentRecord = { size, sha256: expected };
  const etag = hit?.metadata?.etag ?? (hit ? undefined : recorded?.etag);
  const lastModified = hit?.metadata?.lastModified ?? (hit ? undefined : recorded?.lastModified);
  if (etag !== undefined) record.etag = etag;
  if (lastModified !== undefined) record.lastModified = lastModified;
  if (trusted?.sha256 === expected && trusted.size === size) return record;
  const digest = await hashRange(local, 'sha256', start, size, signal);
  return digest === expected ? record : undefined;
}
