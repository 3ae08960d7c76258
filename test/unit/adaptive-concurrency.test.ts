import { describe, expect, it } from 'vitest';
import { AdaptiveConcurrency } from '../../src/fetch/adaptive-concurrency.js';
import { runLink } from './adaptive-link.js';

function controller(initial: number, max: number) {
  const state = { t: 0 };
  const control = new AdaptiveConcurrency({ initial, max, windowMs: 250, now: () => state.t });
  return {
    control,
    run(link: (limit: number) => number, windows: number) {
      const limits: number[] = [];
      for (let w = 0; w < windows; w++) {
        for (let step = 0; step < 5; step++) {
          state.t += 50;
          control.bytes(link(control.limit) * 50);
          control.ended(false, true);
        }
        limits.push(control.limit);
      }
      return limits;
    },
    tick(overloaded: boolean, saturated = true) {
      state.t += 50;
      return control.ended(overloaded, saturated);
    },
  };
}

describe('AdaptiveConcurrency', () => {
  it('doubles while each doubling pays, on a link where each request waits a round trip', () => {
    const { control, run } = controller(16, 64);
    // Latency-bound: throughput proportional to requests in flight.
    const limits = run((limit) => limit * 10, 8);
    expect(limits.at(-1)).toBe(64);
    expect(control.limit).toBe(64);
    expect(limits).toContain(32);
  });

  it('undoes a step that brings nothing, where bandwidth is the bound', () => {
    const { control, run } = controller(16, 64);
    const limits = run(() => 1000, 12);
    expect(Math.max(...limits)).toBe(32);
    expect(control.limit).toBe(16);
  });

  it('stops where the gain stops: the knee of the link', () => {
    const { control, run } = controller(8, 64);
    run((limit) => Math.min(limit, 20) * 100, 40);
    expect(control.limit).toBeGreaterThanOrEqual(16);
    expect(control.limit).toBeLessThanOrEqual(25);
  });

  it('halves on overload, once a window, and keeps below the limit that drew it', () => {
    const { control, tick, run } = controller(16, 64);
    expect(tick(true)).toBe(8);
    expect(tick(true)).toBeUndefined();
    expect(control.limit).toBe(8);
    expect(control.ceiling).toBe(15);
    for (let i = 0; i < 5; i++) tick(false);
    expect(tick(true)).toBe(4);
    expect(control.ceiling).toBe(7);
    run((limit) => limit * 10, 60);
    expect(control.limit).toBeLessThanOrEqual(7);
    expect(control.limit).toBeGreaterThan(4);
  });

  it('leaves the time of the first round of requests, and of one and a half after a step, unmeasured', () => {
    const state = { t: 0 };
    const control = new AdaptiveConcurrency({ initial: 16, max: 64, windowMs: 250, now: () => state.t });
    const request = (bytes: number) => {
      state.t += 50;
      control.bytes(bytes);
      return control.ended(false, true, 100);
    };
    // The first 16 requests make the connections: almost nothing arrives, and it is not measured.
    for (let i = 0; i < 16; i++) expect(request(10)).toBeUndefined();
    // The first window (250 ms) measures, and the limit doubles at once.
    for (let i = 0; i < 4; i++) expect(request(1000)).toBeUndefined();
    expect(request(1000)).toBe(32);
    // The new connections' handshakes: almost nothing arrives for 100 ms. Unmeasured, they cannot
    // make the step look unpaid.
    for (let i = 0; i < 2; i++) request(10);
    for (let i = 0; i < 5; i++) request(2000);
    expect(control.limit).toBe(64);
  });

  it("is not fooled by the first connections' handshakes: they are not measured", () => {
    const state = { t: 0 };
    const control = new AdaptiveConcurrency({ initial: 16, max: 64, windowMs: 250, now: () => state.t });
    const request = (bytes: number) => {
      state.t += 50;
      control.bytes(bytes);
      return control.ended(false, true, 100);
    };
    // Handshakes first: little arrives. Counted, they would make a link whose bandwidth is the
    // bound look as if twice the requests carried more.
    request(10);
    request(10);
    const limits = [];
    for (let i = 0; i < 40; i++) limits.push(request(1000) ?? control.limit);
    expect(Math.max(...limits)).toBe(32);
    expect(control.limit).toBe(16);
  });

  it('judges no window in which work ran out', () => {
    const { control, tick } = controller(16, 64);
    for (let i = 0; i < 100; i++) tick(false, false);
    expect(control.limit).toBe(16);
  });
});

describe('AdaptiveConcurrency: slow start where requests wait for round trips', () => {
  const KiB = 1024;
  const MiB = 1024 * KiB;
  /** 64 KiB objects 40 ms away (the bench's edge): ~45 ms a request, 80 ms on a new connection. */
  const edge = { rttMs: 40, bytesPerMs: 200e3, objects: 1000, objectBytes: 64 * KiB };

  function rounds(first: number, then: number, count: number, bytes = 64 * KiB) {
    const state = { t: 0 };
    const control = new AdaptiveConcurrency({ initial: 16, max: 64, windowMs: 100, now: () => state.t });
    const limits: number[] = [];
    const request = (ms: number) => {
      state.t += 3;
      control.bytes(bytes);
      limits.push(control.ended(false, true, ms) ?? control.limit);
    };
    for (let i = 0; i < 16; i++) request(first);
    for (let i = 0; i < count; i++) request(then);
    return limits;
  }

  it('grows by one per request that ended with work waiting, when the first round took a round trip more', () => {
    // The first round paid its handshakes (90 ms), the next requests take half: a round trip is
    // most of a request.
    expect(rounds(90, 45, 10).slice(16)).toEqual([17, 18, 19, 20, 21, 22, 23, 24, 25, 26]);
    // Where the first round took as long as the rest, the limit waits for a measured window.
    expect(rounds(45, 45, 10).slice(16)).toEqual(Array(10).fill(16));
  });

  it('does not slow-start on large objects, whatever the first round took', () => {
    // 16 MiB each: the first round's time is the process's start as much as round trips, and a
    // step too far would hold its extra connections for seconds.
    expect(rounds(1500, 400, 10, 16 * MiB).slice(16)).toEqual(Array(10).fill(16));
    expect(rounds(1500, 400, 10, 1024 * KiB).slice(16)).toEqual([17, 18, 19, 20, 21, 22, 23, 24, 25, 26]);
  });

  it('grows at most twice the limit a window began at, before that window is judged', () => {
    // 33 requests in the first window (3 ms apart, 100 ms): one each, but not past 32.
    expect(Math.max(...rounds(90, 45, 33))).toBe(32);
  });

  it('reaches the ceiling of a far edge within a few round trips, near a fixed 64', () => {
    const auto = runLink(edge);
    const fixed = runLink({ ...edge, initial: 64 });
    expect(auto.final).toBe(64);
    // The first round (two round trips with the handshakes), then a doubling per window at most.
    expect(auto.reached(64)).toBeLessThanOrEqual(6 * edge.rttMs);
    expect(auto.ms).toBeLessThan(1.25 * fixed.ms);
    // By one at a time: every limit from 16 to 64 was set.
    const set = new Set(auto.limits.map((entry) => entry.limit));
    for (let limit = 16; limit <= 64; limit++) expect(set.has(limit)).toBe(true);
  });

  it('stops near the knee of a far edge whose bandwidth takes 24 requests, as the doublings do', () => {
    const knee = { ...edge, objects: 3000, bytesPerMs: (24 * 64 * KiB) / edge.rttMs };
    const auto = runLink(knee);
    expect(auto.reached(32)).toBeDefined();
    // The step beyond the knee is undone: to where the window that did not pay began.
    expect(auto.final).toBeLessThanOrEqual(32);
    expect(auto.final).toBeGreaterThanOrEqual(16);
  });

  it('does not slow-start where bandwidth is the bound: large objects on a near link', () => {
    const bulk = runLink({ rttMs: 1, bytesPerMs: 300e3, objects: 400, objectBytes: 16 * MiB });
    // One doubling tried once a window had measured 16, undone when it brought nothing.
    expect(Math.max(...bulk.limits.map((entry) => entry.limit))).toBe(32);
    expect(bulk.final).toBe(16);
    expect(bulk.connections).toBeLessThanOrEqual(32);
  });

  it('ends slow start at an overload: halved from where its window began, then no growth per request', () => {
    const state = { t: 0 };
    const control = new AdaptiveConcurrency({ initial: 16, max: 64, windowMs: 100, now: () => state.t });
    const request = (ms: number, overloaded = false) => {
      state.t += 3;
      return control.ended(overloaded, true, ms);
    };
    for (let i = 0; i < 16; i++) request(90);
    for (let i = 0; i < 8; i++) request(45);
    expect(control.limit).toBe(24);
    // The window began at 16: the growth to 24 ran past what the origin takes before the refusal
    // came back, so the halving is from 16, not 24 (12 would leave it overloaded another window).
    expect(request(45, true)).toBe(8);
    expect(control.ceiling).toBe(23);
    for (let i = 0; i < 20; i++) expect(request(45)).toBeUndefined();
    expect(control.limit).toBe(8);
  });
});
