/**
 * Whether a run did what it was asked: fragfetch's JSON report (fragments, bytes, requests), or the
 * files another tool wrote (present, with their sizes). A failed run is reported, never timed.
 */
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import type { RunResult } from './measure.js';
import type { Transfer } from './tools.js';

export interface Verdict {
  ok: boolean;
  problem?: string;
  /** From fragfetch's JSON report. */
  requests?: number;
  /** Counted by the server itself. */
  serverRequests?: number;
  downloadedBytes?: number;
  cachedFragments?: number;
  retries?: number;
  /**
   * Figures of the run a scenario judges other than by time (the fast mirror's share of the bytes,
   * the achieved rate), by name, in the unit the scenario's metric targets give them.
   */
  metrics?: Record<string, number>;
}

export function describeFailure(result: RunResult): string | undefined {
  if (result.timedOut) return 'timed out';
  if (result.signal) return `killed by ${result.signal}`;
  if (result.exitCode !== 0) {
    return `exit ${result.exitCode}${result.stderrTail ? `: ${result.stderrTail.split('\n').at(-1)}` : ''}`;
  }
  return undefined;
}

/** What the harness reads of fragfetch's `--json` report (src/fetch/report.ts). */
export interface FragfetchJson {
  ok: boolean;
  fragments: { total: number; downloaded: number; cached: number; failed: number };
  bytes: { downloaded: number };
  requests: number;
  retries: number;
  durationMs: number;
  endpoints: { url: string; bytes: number }[];
  failures: { id: string; error: { code: string; message: string } }[];
}

function parseReport(result: RunResult): { report?: FragfetchJson; problem?: string } {
  try {
    return { report: JSON.parse(result.stdout) as FragfetchJson };
  } catch {
    return {
      problem: `no JSON report on stdout (${describeFailure(result) ?? 'exit 0'}; ${result.stderrTail})`,
    };
  }
}

/** `metrics`: the figures a scenario reads from a successful run's report. */
export function fragfetchVerdict(
  result: RunResult,
  expect: { fragments: number; bytes: number; warm: boolean },
  metrics?: (report: FragfetchJson) => Record<string, number>,
): Verdict {
  const { report, problem } = parseReport(result);
  if (!report) return { ok: false, problem: problem ?? 'no report' };
  const facts = {
    requests: report.requests,
    downloadedBytes: report.bytes.downloaded,
    cachedFragments: report.fragments.cached,
    retries: report.retries,
  };
  const failure = describeFailure(result);
  if (failure || !report.ok || report.fragments.failed > 0) {
    const first = report.failures[0];
    const why = first ? `${first.id}: ${first.error.code} ${first.error.message}` : (failure ?? 'not ok');
    return { ok: false, problem: `${report.fragments.failed} failed (${why})`, ...facts };
  }
  if (report.fragments.total !== expect.fragments) {
    return {
      ok: false,
      problem: `${report.fragments.total} fragments, expected ${expect.fragments}`,
      ...facts,
    };
  }
  if (expect.warm) {
    if (report.requests !== 0 || report.fragments.cached !== expect.fragments) {
      return {
        ok: false,
        problem: `warm run sent ${report.requests} requests, ${report.fragments.cached}/${expect.fragments} from cache`,
        ...facts,
      };
    }
  } else if (report.fragments.downloaded !== expect.fragments || report.bytes.downloaded < expect.bytes) {
    return {
      ok: false,
      problem: `downloaded ${report.fragments.downloaded} fragments / ${report.bytes.downloaded} bytes, expected ${expect.fragments} / ${expect.bytes}`,
      ...facts,
    };
  }
  return { ok: true, ...facts, ...(metrics ? { metrics: metrics(report) } : {}) };
}

/** Every output file is there with its size (the other tools verify nothing, we check that much). */
export async function outputVerdict(
  result: RunResult,
  outDir: string,
  transfers: readonly Transfer[],
  metrics?: (result: RunResult) => Record<string, number>,
): Promise<Verdict> {
  const failure = describeFailure(result);
  if (failure) return { ok: false, problem: failure };
  const present = new Set(await readdir(outDir).catch(() => [] as string[]));
  for (const transfer of transfers) {
    if (!present.has(transfer.name)) return { ok: false, problem: `${transfer.name} missing` };
    const info = await stat(path.join(outDir, transfer.name));
    if (info.size !== transfer.size) {
      return { ok: false, problem: `${transfer.name}: ${info.size} bytes, expected ${transfer.size}` };
    }
  }
  return { ok: true, ...(metrics ? { metrics: metrics(result) } : {}) };
}
