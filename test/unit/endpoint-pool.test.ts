import { describe, expect, it } from 'vitest';
import { EndpointPool } from '../../src/fetch/endpoint-pool.js';

const A = 'https://a.example/m/x.bin';
const B = 'https://b.example/m/x.bin';
const urls = [A, B];

function clock() {
  let t = 0;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

/** One request to `url` carrying `bytes` in `ms`. */
function serve(pool: EndpointPool, url: string, bytes: number, ms: number, failed = false) {
  pool.sent(url);
  pool.answered(url, Math.min(ms, 5));
  pool.ended(url, { bytes, ms, failed });
}

describe('EndpointPool, fastest', () => {
  it('measures each mirror once, then sends in proportion to measured speed', () => {
    const time = clock();
    const pool = new EndpointPool({ order: 'fastest', now: time.now });
    // Neither measured: the first goes to A, the next to the idle, unmeasured B.
    expect(pool.choose(urls)).toBe(0);
    pool.sent(A);
    expect(pool.choose(urls)).toBe(1);
    pool.ended(A, { bytes: 4000, ms: 1000, failed: false }); // 4 bytes/ms
    serve(pool, B, 16_000, 1000); // 16 bytes/ms
    // B is four times as fast: it takes requests until four are in flight there, then A one.
    const picks: number[] = [];
    for (let i = 0; i < 5; i++) {
      const index = pool.choose(urls)!;
      picks.push(index);
      pool.sent(urls[index]!);
    }
    expect(picks).toEqual([1, 1, 1, 0, 1]);
  });

  it('probes an idle mirror not measured for a while: one that got faster is noticed', () => {
    const time = clock();
    const pool = new EndpointPool({ order: 'fastest', now: time.now, probeAfterMs: 5000 });
    serve(pool, A, 1000, 1000);
    serve(pool, B, 50_000, 1000);
    expect(pool.choose(urls)).toBe(1);
    time.advance(4000);
    serve(pool, B, 50_000, 1000);
    expect(pool.choose(urls)).toBe(1);
    time.advance(2000);
    // A's last measure is 6 s old and A is idle.
    expect(pool.choose(urls)).toBe(0);
    pool.sent(A);
    time.advance(100);
    pool.ended(A, { bytes: 200_000, ms: 100, failed: false }); // now 2000 bytes/ms: much faster
    for (let i = 0; i < 3; i++) serve(pool, A, 200_000, 100);
    expect(pool.choose(urls)).toBe(0);
  });

  it('leaves out what the fragment may not use, and says so when nothing is left', () => {
    const pool = new EndpointPool({ order: 'fastest' });
    expect(pool.choose(urls, (index) => index === 1)).toBe(1);
    expect(pool.choose(urls, () => false)).toBeUndefined();
  });
});

describe('EndpointPool, circuit breaker', () => {
  it('opens after three failures in a row, lets one trial through after the cool-down, closes on success', () => {
    const time = clock();
    const pool = new EndpointPool({ order: 'listed', now: time.now, coolDownMs: 2000 });
    expect(pool.choose(urls)).toBe(0);
    serve(pool, A, 0, 10, true);
    serve(pool, A, 0, 10, true);
    expect(pool.choose(urls)).toBe(0);
    expect(pool.health().get('https://a.example')).toBe('healthy');
    serve(pool, A, 0, 10, true);
    // Open: the listed order skips A while B can serve.
    expect(pool.choose(urls)).toBe(1);
    expect(pool.health().get('https://a.example')).toBe('failed');
    time.advance(2000);
    // Half-open: one trial request to A, none other meanwhile.
    expect(pool.choose(urls)).toBe(0);
    pool.sent(A);
    expect(pool.choose(urls)).toBe(1);
    expect(pool.health().get('https://a.example')).toBe('backed-off');
    pool.ended(A, { bytes: 100, ms: 10, failed: false });
    expect(pool.choose(urls)).toBe(0);
    expect(pool.health().get('https://a.example')).toBe('healthy');
  });

  it('a failed trial reopens it for twice as long; failures of requests sent before it opened do not', () => {
    const time = clock();
    const pool = new EndpointPool({ order: 'listed', now: time.now, coolDownMs: 1000 });
    for (let i = 0; i < 5; i++) pool.sent(A);
    for (let i = 0; i < 5; i++) pool.ended(A, { bytes: 0, ms: 10, failed: true });
    time.advance(1000);
    expect(pool.choose(urls)).toBe(0); // the first cool-down was 1 s, not 2^3 s
    serve(pool, A, 0, 10, true);
    time.advance(1999);
    expect(pool.choose(urls)).toBe(1);
    time.advance(1);
    expect(pool.choose(urls)).toBe(0);
  });

  it('with every endpoint open, the one that reopens soonest', () => {
    const time = clock();
    const pool = new EndpointPool({ order: 'listed', now: time.now, coolDownMs: 1000 });
    for (let i = 0; i < 3; i++) serve(pool, B, 0, 10, true);
    time.advance(500);
    for (let i = 0; i < 3; i++) serve(pool, A, 0, 10, true);
    expect(pool.choose(urls)).toBe(1);
  });
});

describe('EndpointPool, hedging delay', () => {
  it('is the smoothed time to headers plus four deviations, within bounds', () => {
    const pool = new EndpointPool({ order: 'fastest', minHedgeMs: 200, maxHedgeMs: 10_000 });
    expect(pool.hedgeDelayMs()).toBe(1000);
    for (let i = 0; i < 50; i++) pool.answered(A, 40);
    expect(pool.hedgeDelayMs()).toBe(200);
    const far = new EndpointPool({ order: 'fastest', minHedgeMs: 200, maxHedgeMs: 10_000 });
    for (let i = 0; i < 50; i++) far.answered(A, i % 2 === 0 ? 300 : 500);
    const delay = far.hedgeDelayMs();
    expect(delay).toBeGreaterThan(700);
    expect(delay).toBeLessThan(1000);
  });
});
