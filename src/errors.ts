/**
 * Every failure fragfetch reports is a FragfetchError with a stable code, so that the CLI, the JSON
 * report and callers can branch on `code` rather than on message text.
 */
export type ErrorCode =
  | 'EMANIFEST' // the manifest is unreadable or invalid
  | 'EUSAGE' // a command-line option or argument is invalid
  | 'EINTEGRITY' // the bytes received do not match the declared integrity
  | 'ESIZE' // the object is larger or smaller than declared
  | 'EHTTP' // the server answered with an error status
  | 'ERANGE' // the server answered a range request with the wrong range
  | 'EENCODING' // the body is coded (gzip, a transfer coding other than chunked): not the object's bytes
  | 'ECHANGED' // the object changed while it was being downloaded
  | 'ENETWORK' // connection refused, reset, DNS, truncated body
  | 'ESTALL' // no bytes for longer than the stall timeout
  | 'ESLOW' // a body slower than --min-speed over --min-speed-time: a drip
  | 'ETIMEOUT' // no response headers within the timeout
  | 'ETLS' // the server's certificate is not trusted, or the TLS handshake failed
  | 'EPROXY' // the proxy refused the request
  | 'EREDIRECT' // too many redirections, a loop, or a redirect to a scheme we do not fetch
  | 'ERETRIES' // the retry budget is spent
  | 'EOFFLINE' // offline mode and the fragment is not cached
  | 'ECACHE' // the cache could not be read or written
  | 'ENOSPC' // the disk of the cache (or the quota) is full: not retried
  | 'ELOCKLOST' // another process took over our partial-download lock (we looked dead): stop writing
  | 'EPATH' // a path would escape the target directory
  | 'EABORT'; // interrupted by the user

export interface ErrorDetails {
  cause?: unknown;
  url?: string;
  status?: number;
  expected?: string | number;
  found?: string | number;
  attempt?: number;
  /** For HTTP 429/503: how long the server asked us to wait, in ms. */
  retryAfterMs?: number;
  /** Every problem found, one line each, when the message can name only the first (an invalid manifest). */
  problems?: readonly string[];
}

export class FragfetchError extends Error {
  readonly code: ErrorCode;
  readonly url?: string;
  readonly status?: number;
  readonly expected?: string | number;
  readonly found?: string | number;
  readonly attempt?: number;
  readonly retryAfterMs?: number;
  readonly problems?: readonly string[];

  constructor(code: ErrorCode, message: string, details: ErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'FragfetchError';
    this.code = code;
    if (details.url !== undefined) this.url = stripUrlAuth(details.url);
    if (details.status !== undefined) this.status = details.status;
    if (details.expected !== undefined) this.expected = details.expected;
    if (details.found !== undefined) this.found = details.found;
    if (details.attempt !== undefined) this.attempt = details.attempt;
    if (details.retryAfterMs !== undefined) this.retryAfterMs = details.retryAfterMs;
    if (details.problems !== undefined) this.problems = details.problems;
  }
}

export function isFragfetchError(error: unknown, code?: ErrorCode): error is FragfetchError {
  return error instanceof FragfetchError && (code === undefined || error.code === code);
}

/** Credentials never reach a message, a log line or a report. */
export function stripUrlAuth(url: string): string {
  // No "@", no user information: most URLs, and no parse for them.
  if (!url.includes('@')) return url;
  try {
    const parsed = new URL(url);
    if (parsed.username === '' && parsed.password === '') return url;
    parsed.username = '';
    parsed.password = '';
    return parsed.toString();
  } catch {
    return url;
  }
}
