import { STATUS_CODES } from 'node:http';
import { FragfetchError } from '../errors.js';
import { isConnectTimeout } from '../net/network-error.js';
import type { Fragment } from '../manifest/fragment.js';
import { formatDuration } from '../units.js';
import type { Finding, FindingCode, Observation } from './types.js';

/**
 * Judges one probe: what is wrong with this fragment on this endpoint. Pure, so that every rule below
 * is tested without a server.
 *
 *   no answer ──────────────────────────────► unreachable (ENETWORK / ETIMEOUT / ESTALL)
 *   status not 200, 206 or 416-with-length ─► EHTTP
 *   206 of another range ──────────────────► ERANGE
 *   length contradicts the manifest ───────► ESIZE
 *   200 to a Range request ────────────────► warning WRANGE (downloads will not resume there)
 *   --deep: byte count, then integrity ────► ESIZE / EINTEGRITY
 */
export function classify(fragment: Fragment, observation: Observation): Finding[] {
  const { error, status } = observation;
  if (error !== undefined) return [{ severity: 'failure', ...error }];
  if (status === undefined) return [failure('EUNKNOWN', 'no answer')];
  // A 416 to `bytes=O-O` is the right answer when O is the object's length (an empty fragment).
  const answered =
    status === 200 || status === 206 || (status === 416 && observation.objectLength !== undefined);
  if (!answered) return [{ ...failure('EHTTP', `HTTP ${status}${statusText(status)}`), status }];

  const findings: Finding[] = [];
  const offset = fragment.offset ?? 0;
  if (status === 206 && observation.method === 'GET' && observation.rangeStart !== offset) {
    const found =
      observation.rangeStart === undefined
        ? 'an unreadable Content-Range'
        : `bytes from ${observation.rangeStart}`;
    findings.push(failure('ERANGE', `asked for bytes from ${offset}, the server sent ${found}`));
  }
  const size = sizeProblem(fragment, observation.objectLength);
  if (size !== undefined) findings.push(failure('ESIZE', size));
  if (observation.rangeSupported === false) {
    findings.push(
      warning('WRANGE', 'range ignored: the server sends whole objects, downloads will not resume here'),
    );
  }
  if (
    observation.deep !== undefined &&
    size === undefined &&
    findings.every((f) => f.severity !== 'failure')
  ) {
    const deep = deepProblem(fragment, observation);
    if (deep !== undefined) findings.push(deep);
  }
  return findings;
}

/** Why the object's length contradicts the manifest, or undefined when it does not (or is unknown). */
export function sizeProblem(fragment: Fragment, length: number | undefined): string | undefined {
  if (length === undefined) return undefined;
  if (fragment.offset !== undefined) {
    const end = fragment.offset + (fragment.size ?? 0);
    if (end <= length) return undefined;
    return `the object has ${length} bytes, the fragment is bytes ${fragment.offset}-${end - 1} of it`;
  }
  if (fragment.size === undefined || fragment.size === length) return undefined;
  return `the object has ${length} bytes, the manifest says ${fragment.size}`;
}

function deepProblem(fragment: Fragment, observation: Observation): Finding | undefined {
  const deep = observation.deep!;
  const expected = fragment.size ?? (fragment.offset === undefined ? observation.objectLength : undefined);
  if (expected !== undefined && deep.bytes !== expected) {
    return failure('ESIZE', `received ${deep.bytes} bytes of the fragment, expected ${expected}`);
  }
  if (fragment.integrity !== undefined && deep.sri !== fragment.integrity.sri) {
    return failure('EINTEGRITY', `integrity mismatch: expected ${fragment.integrity.sri}, found ${deep.sri}`);
  }
  return undefined;
}

/** A probe as the mirror comparison sees it. */
export interface MirrorProbe {
  endpoint: string;
  observation: Observation;
  findings: readonly Finding[];
}

/**
 * Compares one fragment's answers across endpoints: mirrors of one object should agree on its
 * length and validators. The reference is the first endpoint (in failover order) that answered
 * without a failure, the one downloads use first; each other endpoint that disagrees gets a warning.
 * ETags win over Last-Modified when both sides have one (equal content, equal ETag), ignoring `W/`.
 */
export function mirrorFindings(probes: readonly MirrorProbe[]): (Finding | undefined)[] {
  const healthy = (p: MirrorProbe) => p.findings.every((f) => f.severity !== 'failure');
  const reference = probes.find(healthy);
  return probes.map((probe) => {
    if (reference === undefined || probe === reference || !healthy(probe)) return undefined;
    const here = probe.observation;
    const there = reference.observation;
    const on = `on ${reference.endpoint}`;
    let problem: string | undefined;
    if (here.objectLength !== undefined && there.objectLength !== undefined) {
      if (here.objectLength !== there.objectLength)
        problem = `${here.objectLength} bytes here, ${there.objectLength} ${on}`;
    }
    if (problem === undefined && here.etag !== undefined && there.etag !== undefined) {
      if (opaque(here.etag) !== opaque(there.etag)) problem = `ETag ${here.etag} here, ${there.etag} ${on}`;
    } else if (problem === undefined && here.lastModified !== undefined && there.lastModified !== undefined) {
      if (Date.parse(here.lastModified) !== Date.parse(there.lastModified))
        problem = `Last-Modified ${here.lastModified} here, ${there.lastModified} ${on}`;
    }
    return problem === undefined ? undefined : warning('WVALIDATORS', `mirrors out of sync: ${problem}`);
  });
}

function opaque(etag: string): string {
  return etag.replace(/^W\//, '');
}

/** A thrown request error as a probe's error: the code, and one line that says what happened. */
export function describeError(error: unknown, timeoutMs: number): { code: FindingCode; message: string } {
  if (!(error instanceof FragfetchError)) {
    return { code: 'EUNKNOWN', message: error instanceof Error ? error.message : String(error) };
  }
  const causeCode = codeOf(error.cause);
  const limit = formatDuration(timeoutMs);
  switch (error.code) {
    case 'ETIMEOUT':
      return isConnectTimeout(causeCode)
        ? { code: 'ETIMEOUT', message: `unreachable: could not connect within ${limit}` }
        : { code: 'ETIMEOUT', message: `unreachable: no response within ${limit}` };
    case 'ESTALL':
      return { code: 'ESTALL', message: `stalled: no data for ${limit}` };
    case 'ENETWORK':
    case 'ETLS':
      return { code: error.code, message: `unreachable: ${networkReason(error.cause ?? error)}` };
    default:
      return { code: error.code, message: error.message };
  }
}

const NETWORK_REASONS: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  ENOTFOUND: 'DNS lookup failed: host not found',
  EAI_AGAIN: 'DNS lookup failed (temporary)',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  UND_ERR_SOCKET: 'the server closed the connection',
};

const TLS_CODE = /^ERR_(TLS|SSL)_|CERT|SELF_SIGNED|DEPTH_ZERO/;

/** Node's own client reports a failed handshake as a socket error (EPROTO) carrying OpenSSL's text. */
function isTlsFailure(code: string, message: string): boolean {
  return TLS_CODE.test(code) || message.includes('SSL routines');
}

function networkReason(cause: unknown): string {
  const root = firstCause(cause);
  const code = codeOf(root) ?? '';
  const message = root instanceof Error ? root.message.split('\n')[0]! : String(root);
  const known = NETWORK_REASONS[code];
  if (known !== undefined) return known;
  // OpenSSL's own text is `<hex>:error:<hex>:SSL routines:<function>:<reason>:<file>:<line>:`.
  if (isTlsFailure(code, message))
    return `TLS error: ${/routines:[^:]*:([^:]+)/.exec(message)?.[1] ?? message}`;
  return message || code || 'network error';
}

/** Happy eyeballs reports every address it tried in an AggregateError; the first says enough. */
function firstCause(cause: unknown): unknown {
  return cause instanceof AggregateError && cause.errors.length > 0 ? firstCause(cause.errors[0]) : cause;
}

/**
 * Network failures that another attempt a moment later will not change: a name that does not
 * resolve, a certificate that does not verify. Retrying them only delays the verdict. A refused
 * connection is retried (a server restarting), within the probe's budget.
 */
export function isDefinitive(error: unknown): boolean {
  if (error instanceof FragfetchError && error.code === 'ETLS') return true;
  if (!(error instanceof FragfetchError) || error.code !== 'ENETWORK') return false;
  const root = firstCause(error.cause);
  const code = codeOf(root) ?? '';
  return code === 'ENOTFOUND' || isTlsFailure(code, root instanceof Error ? root.message : '');
}

function codeOf(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' ? code : undefined;
}

function statusText(status: number): string {
  const text = STATUS_CODES[status];
  return text === undefined ? '' : ` ${text}`;
}

function failure(code: FindingCode, message: string): Finding {
  return { severity: 'failure', code, message };
}

function warning(code: FindingCode, message: string): Finding {
  return { severity: 'warning', code, message };
}
