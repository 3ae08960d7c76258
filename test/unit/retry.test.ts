import { describe, expect, it } from 'vitest';
import { FragfetchError } from '../../src/errors.js';
import { defaultRetryPolicy, isRetryable, parseRetryAfter, retryDelay } from '../../src/net/retry.js';

const http = (status: number, retryAfterMs?: number) =>
  new FragfetchError('EHTTP', `HTTP ${status}`, {
    status,
    ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
  });

describe('retry policy', () => {
  it.each([408, 429, 500, 502, 503, 504, 599])('retries HTTP %i', (status) => {
    expect(isRetryable(http(status))).toBe(true);
  });

  it.each([400, 401, 403, 404, 410, 416])('does not retry HTTP %i', (status) => {
    expect(isRetryable(http(status))).toBe(false);
  });

  it('retries lost connections, stalls and timeouts, not integrity or size errors', () => {
    expect(isRetryable(new FragfetchError('ENETWORK', 'reset'))).toBe(true);
    expect(isRetryable(new FragfetchError('ESTALL', 'stall'))).toBe(true);
    expect(isRetryable(new FragfetchError('ETIMEOUT', 'timeout'))).toBe(true);
    expect(isRetryable(new FragfetchError('EINTEGRITY', 'bad'))).toBe(false);
    expect(isRetryable(new FragfetchError('ESIZE', 'big'))).toBe(false);
    expect(isRetryable(new Error('plain'))).toBe(false);
  });

  it('backs off exponentially with full jitter, capped', () => {
    const max = () => 0.9999;
    expect(
      [1, 2, 3, 4, 5, 6, 7].map((n) => retryDelay(n, http(503), { ...defaultRetryPolicy, retries: 9 }, max)),
    ).toEqual([249, 499, 999, 1999, 3999, 7999, 7999]);
    expect(retryDelay(3, http(503), defaultRetryPolicy, () => 0)).toBe(0);
  });

  it('stops when the budget is spent or the error is permanent', () => {
    expect(retryDelay(6, http(503))).toBeUndefined();
    expect(retryDelay(1, http(404))).toBeUndefined();
  });

  it('prefers the server’s Retry-After, within a ceiling', () => {
    expect(retryDelay(1, http(429, 3000))).toBe(3000);
    expect(retryDelay(1, http(429, 3_600_000))).toBe(defaultRetryPolicy.maxRetryAfterMs);
  });

  it('parses Retry-After as seconds or an HTTP date', () => {
    expect(parseRetryAfter('120')).toBe(120_000);
    const now = Date.parse('Sun, 22 Nov 2026 10:00:00 GMT');
    expect(parseRetryAfter('Sun, 22 Nov 2026 10:00:05 GMT', now)).toBe(5000);
    expect(parseRetryAfter('Sun, 22 Nov 2026 09:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfter('soon')).toBeUndefined();
    expect(parseRetryAfter(undefined)).toBeUndefined();
  });
});
