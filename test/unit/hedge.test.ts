import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { type HedgeLeg, hedged } from '../../src/fetch/hedge.js';

/** A leg the test answers by hand: `answer()` claims and succeeds, `fail()` fails before any answer. */
function manual() {
  const legs = new Map<number, { leg: HedgeLeg; answer: () => boolean; fail: (e: unknown) => void }>();
  const send = (endpoint: number, leg: HedgeLeg) =>
    new Promise<void>((resolve, reject) => {
      leg.signal.addEventListener('abort', () => reject(leg.signal.reason), { once: true });
      legs.set(endpoint, {
        leg,
        answer: () => {
          const mine = leg.claim();
          if (mine) resolve();
          else reject(leg.signal.reason);
          return mine;
        },
        fail: reject,
      });
    });
  return { legs, send };
}

describe('hedged', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('sends to the alternate once the primary is silent for the delay; the first answer wins', async () => {
    const { legs, send } = manual();
    const lost: number[] = [];
    const done = hedged({
      delayMs: 200,
      signal: new AbortController().signal,
      primary: 0,
      alternate: () => 1,
      lost: (endpoint) => {
        lost.push(endpoint);
        return new Error(`lost ${endpoint}`);
      },
      send,
    });
    await vi.advanceTimersByTimeAsync(199);
    expect([...legs.keys()]).toEqual([0]);
    await vi.advanceTimersByTimeAsync(1);
    expect([...legs.keys()]).toEqual([0, 1]);
    expect(legs.get(1)!.answer()).toBe(true);
    await done;
    expect(lost).toEqual([0]);
    expect(legs.get(0)!.leg.signal.aborted).toBe(true);
    // A late answer of the primary may not write.
    expect(legs.get(0)!.leg.claim()).toBe(false);
  });

  it('sends no second request when the primary answers in time', async () => {
    const { legs, send } = manual();
    const done = hedged({
      delayMs: 200,
      signal: new AbortController().signal,
      primary: 0,
      alternate: () => 1,
      lost: () => new Error('lost'),
      send,
    });
    await vi.advanceTimersByTimeAsync(50);
    legs.get(0)!.answer();
    await done;
    await vi.advanceTimersByTimeAsync(1000);
    expect([...legs.keys()]).toEqual([0]);
  });

  it('without an alternate, waits on the primary alone; a primary that fails early fails the try', async () => {
    const { legs, send } = manual();
    const lonely = hedged({
      delayMs: 200,
      signal: new AbortController().signal,
      primary: 0,
      alternate: () => 0,
      lost: () => new Error('lost'),
      send,
    });
    await vi.advanceTimersByTimeAsync(500);
    expect([...legs.keys()]).toEqual([0]);
    legs.get(0)!.fail(new Error('refused'));
    await expect(lonely).rejects.toThrow('refused');

    const again = manual();
    const early = hedged({
      delayMs: 200,
      signal: new AbortController().signal,
      primary: 0,
      alternate: () => 1,
      lost: () => new Error('lost'),
      send: again.send,
    });
    again.legs.get(0)!.fail(new Error('reset'));
    await expect(early).rejects.toThrow('reset');
    await vi.advanceTimersByTimeAsync(500);
    expect([...again.legs.keys()]).toEqual([0]);
  });

  it('when both fail, the error of the leg that claimed the work, else the second', async () => {
    const { legs, send } = manual();
    const done = hedged({
      delayMs: 100,
      signal: new AbortController().signal,
      primary: 0,
      alternate: () => 1,
      lost: () => new Error('lost'),
      send,
    });
    await vi.advanceTimersByTimeAsync(100);
    legs.get(1)!.fail(new Error('second refused'));
    legs.get(0)!.fail(new Error('first timed out'));
    await expect(done).rejects.toThrow('second refused');
  });
});
