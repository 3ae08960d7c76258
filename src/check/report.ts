import { displayUrl } from '../errors.js';
import type { Manifest } from '../manifest/fragment.js';
import { median, percentile } from './stats.js';
import {
  type CheckReport,
  type EndpointSummary,
  type FailureEntry,
  outcomeOf,
  type ProbeReport,
  type ProbeResult,
} from './types.js';

export interface ReportMeta {
  /** Fragments probed (after `--sample`). */
  fragments: number;
  strict: boolean;
  deep: boolean;
  interrupted: boolean;
  durationMs: number;
}

/** Assembles the `--json` report: every probe, a summary per endpoint, the failures. */
export function buildReport(
  manifest: Manifest,
  results: readonly ProbeResult[],
  meta: ReportMeta,
): CheckReport {
  const probes = results.map(probeReport);
  const count = (outcome: ProbeReport['outcome']) => probes.filter((p) => p.outcome === outcome).length;
  const summary = {
    probes: probes.length,
    ok: count('ok'),
    warnings: count('warning'),
    failed: count('failed'),
  };
  const failures: FailureEntry[] = probes.flatMap((probe) =>
    probe.findings
      .filter((f) => f.severity === 'failure' || meta.strict)
      .map((f) => ({
        id: probe.id,
        path: probe.path,
        endpoint: probe.endpoint,
        url: probe.url,
        code: f.code,
        message: f.message,
        ...(f.status === undefined ? {} : { status: f.status }),
      })),
  );
  return {
    ok: !meta.interrupted && summary.failed === 0 && (!meta.strict || summary.warnings === 0),
    strict: meta.strict,
    deep: meta.deep,
    interrupted: meta.interrupted,
    manifest: { name: manifest.name ?? null, source: manifest.source },
    fragments: { total: manifest.fragments.length, probed: meta.fragments },
    summary,
    durationMs: Math.round(meta.durationMs),
    endpoints: summarizeEndpoints(probes),
    probes,
    failures,
  };
}

function probeReport(result: ProbeResult): ProbeReport {
  const { fragment, observation: o } = result;
  return {
    id: fragment.id,
    path: fragment.path,
    priority: fragment.priority,
    endpoint: result.endpoint,
    url: displayUrl(result.url),
    outcome: outcomeOf(result.findings),
    skipped: result.skipped,
    method: o.method,
    status: o.status ?? null,
    ttfbMs: o.ttfbMs === undefined ? null : round(o.ttfbMs),
    durationMs: round(o.durationMs),
    attempts: o.attempts,
    objectLength: o.objectLength ?? null,
    rangeSupported: o.rangeSupported ?? null,
    etag: o.etag ?? null,
    lastModified: o.lastModified ?? null,
    bytesRead: o.bytesRead,
    findings: result.findings,
  };
}

/** One row per endpoint, in the order they first appear (the first fragment's failover order). */
function summarizeEndpoints(probes: readonly ProbeReport[]): EndpointSummary[] {
  const groups = new Map<string, ProbeReport[]>();
  for (const probe of probes) {
    const group = groups.get(probe.endpoint) ?? [];
    group.push(probe);
    groups.set(probe.endpoint, group);
  }
  return [...groups].map(([url, group]) => {
    const latencies = group.flatMap((p) => (p.ttfbMs === null ? [] : [p.ttfbMs]));
    const medianMs = median(latencies);
    const p95Ms = percentile(latencies, 95);
    return {
      url,
      probes: group.length,
      ok: group.filter((p) => p.outcome === 'ok').length,
      warnings: group.filter((p) => p.outcome === 'warning').length,
      failed: group.filter((p) => p.outcome === 'failed').length,
      unreachable: group.every((p) => p.status === null),
      latency:
        medianMs === undefined || p95Ms === undefined
          ? null
          : { medianMs: round(medianMs), p95Ms: round(p95Ms) },
    };
  });
}

/** Tenths of a millisecond: enough for loopback, no noise for humans. */
function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}
