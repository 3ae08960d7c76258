import { FragfetchError } from '../errors.js';

export interface RetryPolicy {
  /** Retries after the first attempt. */
  retries: number;
  /** Base of the exponential backoff, ms. */
  baseDelayMs: number;
  /** Ceiling of one computed backoff, ms. */
  maxDelayMs: number;
  /** Ceiling of a server's Retry-After we are willing to honour, ms. */
  maxRetryAfterMs: number;
}

export const defaultRetryPolicy: RetryPolicy = {
  retries: 5,
  baseDelayMs: 250,
  maxDelayMs: 8_000,
  maxRetryAfterMs: 60_000,
};

/**
 * Statuses worth another try, each with its reason. Any other 4xx is the client's fault and fails at once.
 */
const RETRYABLE_STATUS = new Map<number, string>([
  [408, 'the server timed out waiting for the request'],
  [425, 'too early: the server asks for a replay'],
  [429, 'rate limited: honour Retry-After'],
  [500, 'a transient server fault as often as a permanent one'],
  [502, 'a CDN edge could not reach its origin'],
  [503, 'overloaded or in maintenance: honour Retry-After'],
  [504, 'a CDN edge timed out on its origin'],
]);

/** Error codes that mean "the bytes did not arrive", not "the request is wrong". */
const RETRYABLE_CODES = new Set(['ENETWORK', 'ESTALL', 'ESLOW', 'ETIMEOUT']);

export function isRetryableStatus(status: number): boolean {
  return RETRYABLE_STATUS.has(status) || (status >= 500 && status < 600);
}

export function isRetryable(error: unknown): boolean {
  if (!(error instanceof FragfetchError)) return false;
  if (error.code === 'EHTTP') return error.status !== undefined && isRetryableStatus(error.status);
  return RETRYABLE_CODES.has(error.code);
}

/**
 * Parses Retry-After as delta-seconds or an HTTP date (RFC 9110 §10.2.3); undefined when absent or
 * unparseable. `now` is injectable so the date form is testable.
 */
export function parseRetryAfter(value: string | undefined, now = Date.now()): number | undefined {
  if (value === undefined) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const date = Date.parse(trimmed);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - now);
}

/**
 * How long to wait before retry number `attempt` (1-based), or undefined when the error is not worth
 * retrying or the budget is spent. Full jitter (AWS architecture blog) spreads retries of many clients
 * hit by the same outage; a server's Retry-After wins over our own guess, within a ceiling.
 */
export function retryDelay(
  attempt: number,
  error: unknown,
  policy: RetryPolicy = defaultRetryPolicy,
  random: () => number = Math.random,
): number | undefined {
  if (attempt > policy.retries || !isRetryable(error)) return undefined;
  const retryAfter = error instanceof FragfetchError ? error.retryAfterMs : undefined;
  if (retryAfter !== undefined) return Math.min(retryAfter, policy.maxRetryAfterMs);
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
  return Math.floor(random() * ceiling);
}
