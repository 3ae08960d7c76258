import type { FetchReport, FailureReport } from '../fetch/report.js';

/** The `mirror` section of `mirror --json`: what happened under `<dir>`. */
export interface MirrorSection {
  dir: string;
  files: {
    total: number;
    /** Written whole: new, or replaced from the first byte to the last. */
    written: number;
    /** Kept, with only the ranges that differed rewritten in place of the old ones. */
    repaired: number;
    /** Already matching: left alone, no request. */
    upToDate: number;
    failed: number;
    deleted: number;
  };
  /** `repaired`: the bytes rewritten in repaired files, not their size (that is in `repaired[]`). */
  bytes: { written: number; repaired: number; upToDate: number };
  /** Whole files put in place as hard links to the cache (`--hardlink`). */
  hardlinked: number;
  /** Paths written whole, and paths deleted by `--delete`, in order. */
  written: string[];
  /** Files repaired: how many of their bytes were rewritten, of how many. */
  repaired: { path: string; rewritten: number; size: number }[];
  deleted: string[];
  /** With `--delete`: why nothing was deleted (a failure or an interruption), else null. */
  deleteSkipped: string | null;
}

/** The fetch report of the fragments that had to be fetched, plus the mirror section. */
export interface MirrorReport extends FetchReport {
  mirror: MirrorSection;
}

export function emptySection(dir: string, total: number): MirrorSection {
  return {
    dir,
    files: { total, written: 0, repaired: 0, upToDate: 0, failed: 0, deleted: 0 },
    bytes: { written: 0, repaired: 0, upToDate: 0 },
    hardlinked: 0,
    written: [],
    repaired: [],
    deleted: [],
    deleteSkipped: null,
  };
}

/** Joins the engine's report and the mirror's: `ok` only when both are. */
export function mirrorReport(
  fetch: FetchReport,
  section: MirrorSection,
  failures: FailureReport[],
): MirrorReport {
  const all = [...fetch.failures, ...failures];
  return { ...fetch, ok: fetch.ok && failures.length === 0, failures: all, mirror: section };
}
