import type { ErrorCode } from '../errors.js';
import type { Fragment, Priority } from '../manifest/fragment.js';

/**
 * What a finding means for the build. Failures: unreachable (ENETWORK, ETIMEOUT, ESTALL, ETLS), an HTTP
 * error (EHTTP), a length that contradicts the manifest (ESIZE), a wrong range (ERANGE), bytes that
 * do not match the integrity (EINTEGRITY, `--deep`). Warnings: the range was ignored (WRANGE) or the
 * mirrors disagree on the object's validators (WVALIDATORS); they fail the build only with `--strict`.
 */
export type FindingCode = ErrorCode | 'EUNKNOWN' | 'WRANGE' | 'WVALIDATORS';

export interface Finding {
  severity: 'failure' | 'warning';
  code: FindingCode;
  /** One line, no URL: the probe it belongs to names the URL. */
  message: string;
  status?: number;
}

/** What one probe saw, before any judgement (classify.ts judges). */
export interface Observation {
  /** The request that produced the headers below: a ranged GET, or HEAD when GET was refused. */
  method: 'GET' | 'HEAD';
  /** The Range header sent with the GET. */
  range?: string;
  status?: number;
  /** Time to the response headers of the last attempt, ms (connect included). */
  ttfbMs?: number;
  /** All attempts and the waits between them, ms. */
  durationMs: number;
  attempts: number;
  /** Complete length of the remote object, from Content-Range, else Content-Length. */
  objectLength?: number;
  /** First byte of a 206's Content-Range; undefined for other answers or an unreadable header. */
  rangeStart?: number;
  /** True: a 206 (or a 416) came back; false: a 200 to a range, or `Accept-Ranges: none`. */
  rangeSupported?: boolean;
  etag?: string;
  lastModified?: string;
  /** Body bytes read; a shallow probe reads at most a few KiB. */
  bytesRead: number;
  /** The failure below HTTP (or the exhausted retries of one), when no usable answer came. */
  error?: { code: FindingCode; message: string; status?: number };
  /** `--deep`: the fragment's bytes as received, hashed with the integrity's algorithm. */
  deep?: { bytes: number; sri: string };
}

export interface ProbeResult {
  fragment: Fragment;
  endpoint: string;
  url: string;
  observation: Observation;
  findings: Finding[];
  /** Not sent: the endpoint's first probe found it unreachable, so this one fails without waiting. */
  skipped: boolean;
}

export type Outcome = 'ok' | 'warning' | 'failed';

export function outcomeOf(findings: readonly Finding[]): Outcome {
  if (findings.some((f) => f.severity === 'failure')) return 'failed';
  return findings.length > 0 ? 'warning' : 'ok';
}

/** The `--json` report of `check`. */
export interface CheckReport {
  ok: boolean;
  strict: boolean;
  deep: boolean;
  interrupted: boolean;
  manifest: { name: string | null; source: string };
  fragments: { total: number; probed: number };
  summary: { probes: number; ok: number; warnings: number; failed: number };
  durationMs: number;
  /** What the user should know of how the check was made, e.g. that certificates were not verified. */
  warnings?: string[];
  endpoints: EndpointSummary[];
  probes: ProbeReport[];
  failures: FailureEntry[];
}

export interface EndpointSummary {
  url: string;
  probes: number;
  ok: number;
  warnings: number;
  failed: number;
  /** No probe got an answer (after the first failed, the others were not sent). */
  unreachable: boolean;
  /** Time to response headers over the probes that got an answer; null when none did. */
  latency: { medianMs: number; p95Ms: number } | null;
}

export interface ProbeReport {
  id: string;
  path: string;
  priority: Priority;
  endpoint: string;
  url: string;
  outcome: Outcome;
  skipped: boolean;
  method: 'GET' | 'HEAD';
  status: number | null;
  ttfbMs: number | null;
  durationMs: number;
  attempts: number;
  objectLength: number | null;
  rangeSupported: boolean | null;
  etag: string | null;
  lastModified: string | null;
  bytesRead: number;
  findings: Finding[];
}

export interface FailureEntry {
  id: string;
  path: string;
  endpoint: string;
  url: string;
  code: FindingCode;
  message: string;
  status?: number;
}
