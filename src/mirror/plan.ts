import { CacheStore } from '../cache/store.js';
import type { Fragment, Manifest } from '../manifest/fragment.js';
import { orderFragments } from '../manifest/order.js';
import { forEachLimit } from '../schedule/limit.js';
import { isWholeFile, missingFiles } from './laid-out-file.js';
import { type FileLayout, planLayout } from './layout.js';
import { prepareRoot } from './paths.js';
import { unnamedFiles } from './prune.js';
import { type FileDecision, scanFile } from './scan.js';
import { MirrorState } from './state.js';

export interface PlanMirrorOptions {
  cacheDir: string;
  /** Create `<dir>` if missing (a real run); a dry run only looks. */
  create: boolean;
  /** List what `--delete` would remove. */
  delete?: boolean;
  /** Re-hash local files even when the state says they are unchanged. */
  checksum?: boolean;
  signal?: AbortSignal;
}

export interface MirrorPlan {
  /** `<dir>` as a realpath (as given when it does not exist yet). */
  root: string;
  exists: boolean;
  files: FileLayout[];
  state: MirrorState;
  /** One per file, in the order of `files`. */
  decisions: FileDecision[];
  /** The manifest restricted to the fragments the files to write need: what the engine is given. */
  needed: Manifest;
  /** `needed`'s fragments in download order, when they are all the manifest's (ordered once). */
  neededOrder?: Fragment[];
  /** With `delete`: entries under `<dir>` the manifest does not name, sorted. */
  toDelete: string[];
}

/** Files inspected at once: each costs a few stats, and a hash when the state cannot vouch for it. */
const SCAN_CONCURRENCY = 8;

/**
 * Decides, before any request, what a mirror of `manifest` into `dir` has to do: the layout is
 * checked first (an invalid one is an EMANIFEST error, nothing touched), then each file under `dir`
 * is compared with the manifest. What already matches is left out of `needed`, so it costs no
 * request even when the cache is empty.
 */
export async function planMirror(
  manifest: Manifest,
  dir: string,
  options: PlanMirrorOptions,
): Promise<MirrorPlan> {
  const ordered = orderFragments(manifest.fragments);
  const files = planLayout(manifest, ordered);
  const { root, exists } = await prepareRoot(dir, options.create);
  const state = exists ? await MirrorState.load(root) : MirrorState.empty(root);
  const store = new CacheStore(options.cacheDir);
  let decisions: FileDecision[];
  const scanOptions = {
    ...(options.checksum ? { checksum: true } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
  };
  if (exists) {
    decisions = new Array<FileDecision>(files.length);
    await forEachLimit(files, SCAN_CONCURRENCY, async (file, i) => {
      decisions[i] = await scanFile(root, file, state, store, scanOptions);
    });
  } else {
    // Nothing to look at: no promise per file (10^6 of them for as many files), and each file is
    // its own decision.
    decisions = missingFiles(files);
  }

  // Into a folder that does not exist yet, every file is written whole: every fragment is needed.
  const fragments = exists ? neededFragments(manifest.fragments, decisions) : manifest.fragments;
  const needed: Manifest = { ...manifest, fragments };
  const toDelete =
    options.delete && exists ? await unnamedFiles(root, new Set(files.map((f) => f.path))) : [];
  return {
    root,
    exists,
    files,
    state,
    decisions,
    needed,
    ...(fragments === manifest.fragments ? { neededOrder: ordered } : {}),
    toDelete,
  };
}

/**
 * The manifest's fragments that files to write need, in manifest order: all of them (the array as
 * it is) when every fragment is needed, as for a directory that does not exist yet.
 */
function neededFragments(fragments: Fragment[], decisions: readonly FileDecision[]): Fragment[] {
  let count = 0;
  for (const decision of decisions) {
    // A whole file to write needs its one fragment: no array made to say so.
    if (decision.action === 'write') count += isWholeFile(decision.file) ? 1 : decision.needed.length;
  }
  // A fragment belongs to one file: as many needed as there are means every one.
  if (count === fragments.length) return fragments;
  const wanted = new Set<Fragment>();
  for (const decision of decisions)
    if (decision.action === 'write') for (const f of decision.needed) wanted.add(f);
  return fragments.filter((f) => wanted.has(f));
}
