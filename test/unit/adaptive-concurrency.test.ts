import { describe, expect, it } from 'vitest';
import { AdaptiveConcurrency } from '../../src/fetch/adaptive-concurrency.js';

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
