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
    if (details.url !== undefined) this.url = displayUrl(details.url);
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

/**
 * Query parameters whose values are credentials (lower case): a token, an API key, a signature
 * (Azure's `sig`, CloudFront's `Signature`, S3's and GCS's `X-Amz-*`/`X-Goog-*` ones).
 */
const SECRET_PARAMS = new Set([
  'token',
  'access_token',
  'auth',
  'key',
  'api_key',
  'apikey',
  'sig',
  'signature',
  'password',
  'x-amz-signature',
  'x-amz-credential',
  'x-amz-security-token',
  'x-goog-signature',
  'x-goog-credential',
]);

/** Parameters of a signed URL that change with each signing, naming no other content (for cache keys). */
const SIGNING_PREFIXES = ['x-amz-', 'x-goog-'];
const SIGNING_PARAMS = new Set(['expires', 'policy', 'key-pair-id']);

function paramName(pair: string): string {
  const name = pair.slice(0, pair.includes('=') ? pair.indexOf('=') : pair.length);
  try {
    return decodeURIComponent(name.replace(/\+/g, ' ')).toLowerCase();
  } catch {
    return name.toLowerCase();
  }
}

/** `url` with each `name=value` of its query passed through `map` (undefined drops the pair). */
function mapQuery(url: string, map: (pair: string, name: string) => string | undefined): string {
  const question = url.indexOf('?');
  if (question === -1) return url;
  const hash = url.indexOf('#', question);
  const end = hash === -1 ? url.length : hash;
  const pairs = url
    .slice(question + 1, end)
    .split('&')
    .flatMap((pair) => {
      const mapped = pair === '' ? pair : map(pair, paramName(pair));
      return mapped === undefined ? [] : [mapped];
    });
  const query = pairs.length === 0 ? '' : `?${pairs.join('&')}`;
  return `${url.slice(0, question)}${query}${url.slice(end)}`;
}

/**
 * A URL as it may be shown (messages, `--verbose`, reports, JUnit, `cache ls`): no user
 * information, and the values of credential-like query parameters (`token`, `sig`, `X-Amz-Signature`…)
 * replaced by `***`.
 */
export function displayUrl(url: string): string {
  const plain = stripUrlAuth(url);
  if (!plain.includes('?')) return plain;
  return mapQuery(plain, (pair, name) => (SECRET_PARAMS.has(name) ? `${pair.split('=')[0]}=***` : pair));
}

/**
 * A URL as it may be stored (cache keys, entry metadata): no user information and none of the
 * credential or signing parameters, so that a signed URL signed anew for each run names one entry.
 */
export function urlWithoutCredentials(url: string): string {
  const plain = stripUrlAuth(url);
  if (!plain.includes('?')) return plain;
  return mapQuery(plain, (pair, name) =>
    SECRET_PARAMS.has(name) || SIGNING_PARAMS.has(name) || SIGNING_PREFIXES.some((p) => name.startsWith(p))
      ? undefined
      : pair,
  );
}
