import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { CacheStore, type CacheHit } from '../cache/store.js';
import { displayUrl, FragfetchError } from '../errors.js';
import { type FetchObserver, type FetchOptions, fetchManifest } from '../fetch/engine.js';
import type { FailureReport, FetchReport } from '../fetch/report.js';
import type { Fragment, Manifest } from '../manifest/fragment.js';
import { forEachLimit, limitConcurrency } from '../schedule/limit.js';
import { fragmentsOf } from './laid-out-file.js';
import type { FileLayout } from './layout.js';
import { planMirror } from './plan.js';
import { removeFiles } from './prune.js';
import { emptySection, type MirrorReport, mirrorReport } from './report.js';
import type { FileDecision } from './scan.js';
import { tempNameOf, writeMirrorFile } from './write.js';

export interface MirrorOptions extends FetchOptions {
  /** Whole files become hard links to the cache's content instead of copies. */
  hardlink?: boolean;
  /** Remove entries under `<dir>` that the manifest does not name. */
  delete?: boolean;
  /** Re-hash local files even when the state says they are unchanged. */
  checksum?: boolean;
  /** Told the `--delete` list before anything is fetched, written or removed. */
  onDeletePlan?(paths: readonly string[]): void;
}

/** Files assembled at once; each holds one read block of memory. */
const WRITE_CONCURRENCY = 4;

/**
 * Materialises `manifest` under `dir`:
 *
 *   plan (layout, scan <dir>, no request) → fetch what the files to write need
 *   → write each complete file atomically → --delete → save state
 *
 * A file whose fragments did not all arrive is not written (its final name never holds a partial
 * file); deletions are skipped when anything failed or the run was interrupted, as rclone does.
 * Resolves with the report whatever happened, including an abort.
 */
export async function mirrorManifest(
  manifest: Manifest,
  dir: string,
  options: MirrorOptions,
): Promise<MirrorReport> {
  const signal = options.signal;
  const plan = await planMirror(manifest, dir, {
    cacheDir: options.cacheDir,
    create: true,
    ...(options.delete ? { delete: true } : {}),
    ...(options.checksum ? { checksum: true } : {}),
    ...(signal ? { signal } : {}),
  });
  if (options.delete) options.onDeletePlan?.(plan.toDelete);
  const section = emptySection(plan.root, plan.files.length);
  const failures: FailureReport[] = [];
  const fail = (file: FileLayout, error: unknown) => {
    section.files.failed++;
    failures.push(failureOf(fragmentsOf(file)[0]!, error));
  };
  const store = new CacheStore(options.cacheDir);
  const limit = limitConcurrency(WRITE_CONCURRENCY);
  const jobs: Promise<void>[] = [];

  /** Writes a file whose fragments are all in the cache now. */
  const write = (decision: WriteDecision) =>
    limit(async () => {
      if (signal?.aborted) return;
      const { file } = decision;
      try {
        const sources = await sourcesOf(store, decision.needed);
        const result = await writeMirrorFile({
          root: plan.root,
          file,
          sources,
          kept: decision.kept,
          base: decision.base,
          hardlink: options.hardlink ?? false,
          signal,
        });
        plan.state.set(file.path, result.record);
        if (decision.base) {
          // Built on the old file: "1 file written (2.0 MiB)" would hide the 62 MiB that were kept.
          section.files.repaired++;
          section.bytes.repaired += result.bytes;
          section.repaired.push({ path: file.path, rewritten: result.bytes, size: result.record.size });
        } else {
          section.files.written++;
          section.bytes.written += result.bytes;
          section.written.push(file.path);
        }
        if (result.linked) section.hardlinked++;
      } catch (error) {
        if (!signal?.aborted) fail(file, error);
      }
    });

  // Each file is written as soon as its last fragment is in the cache, while others still download:
  // an interrupted run keeps every file it completed, and disk writes overlap the network.
  const fileOf = new Map<Fragment, WriteDecision>();
  const remaining = new Map<WriteDecision, number>();
  const failed = new Set<WriteDecision>();
  for (const decision of plan.decisions) {
    if (decision.action === 'refused') fail(decision.file, decision.error);
    else if (decision.action === 'unchanged') {
      section.files.upToDate++;
      section.bytes.upToDate += decision.record.size;
      if (JSON.stringify(plan.state.get(decision.file.path)) !== JSON.stringify(decision.record)) {
        plan.state.set(decision.file.path, decision.record);
      }
    } else if (decision.needed.length === 0) jobs.push(write(decision));
    else {
      remaining.set(decision, decision.needed.length);
      for (const fragment of decision.needed) fileOf.set(fragment, decision);
    }
  }
  const outer = options.observer;
  const observer: FetchObserver = {
    ...outer,
    settled: (fragment, outcome, error) => {
      outer?.settled?.(fragment, outcome, error);
      const decision = fileOf.get(fragment);
      if (!decision) return;
      // A failed fragment is in the fetch report already; its file is simply not written.
      if (outcome === 'failed') failed.add(decision);
      const left = remaining.get(decision)! - 1;
      remaining.set(decision, left);
      if (left === 0 && !failed.has(decision)) jobs.push(write(decision));
    },
  };

  let fetch: FetchReport;
  try {
    fetch = await fetchManifest(plan.needed, { ...options, observer });
    await Promise.all(jobs);
    section.files.failed += failed.size;
    await removeStaleTemps(plan.root, plan.decisions);
    const named = new Set(plan.files.map((file) => file.path));
    for (const path of plan.state.paths()) if (!named.has(path)) plan.state.delete(path);

    if (options.delete && plan.toDelete.length > 0) {
      if (signal?.aborted) section.deleteSkipped = 'interrupted';
      else if (!fetch.ok || failures.length > 0 || failed.size > 0)
        section.deleteSkipped = 'some files failed';
      else section.deleted = await removeFiles(plan.root, plan.toDelete);
      section.files.deleted = section.deleted.length;
    }
  } finally {
    // What was written is recorded even when the run stops half way (or fails): the next run trusts it.
    await Promise.allSettled(jobs);
    await plan.state.save();
  }
  return mirrorReport(
    { ...fetch, interrupted: fetch.interrupted || Boolean(signal?.aborted) },
    section,
    failures,
  );
}

type WriteDecision = Extract<FileDecision, { action: 'write' }>;

/** The cache entries of the fragments to write: all there, since the engine just fetched them. */
async function sourcesOf(store: CacheStore, fragments: Fragment[]): Promise<Map<Fragment, CacheHit>> {
  const sources = new Map<Fragment, CacheHit>();
  for (const fragment of fragments) {
    const hit = await store.lookup(fragment);
    // Pruned by another process between the fetch and now.
    if (!hit) throw new FragfetchError('ECACHE', `${fragment.id} left the cache before it was written`);
    sources.set(fragment, hit);
  }
  return sources;
}

/**
 * A run killed while building a file leaves its temporary name behind; a re-run that writes the
 * file replaces it, and this removes those beside files that turned out up to date.
 */
async function removeStaleTemps(root: string, decisions: FileDecision[]): Promise<void> {
  await forEachLimit(decisions, 16, async (decision) => {
    if (decision.action !== 'unchanged') return;
    const segments = decision.file.path.split('/');
    const name = segments.pop()!;
    await rm(join(root, ...segments, tempNameOf(name)), { force: true }).catch(() => undefined);
  });
}

function failureOf(fragment: Fragment, error: unknown): FailureReport {
  const message = error instanceof Error ? error.message : String(error);
  const errno =
    typeof error === 'object' && error !== null && 'code' in error ? String(error.code) : undefined;
  return {
    id: fragment.id,
    path: fragment.path,
    url: displayUrl(fragment.urls[0] ?? ''),
    error: {
      code: error instanceof FragfetchError ? error.code : 'EUNKNOWN',
      message: error instanceof FragfetchError || errno === undefined ? message : `${errno}: ${message}`,
    },
  };
}
