import { describe, expect, it, vi } from 'vitest';
import { delay } from '../../src/net/delay.js';
import { RateLimiter } from '../../src/net/rate-limit.js';
import { PriorityQueue } from '../../src/schedule/priority-queue.js';
import { Slots } from '../../src/schedule/slots.js';
import { whenAborted } from '../../src/schedule/when-aborted.js';

describe('PriorityQueue', () => {
  it('serves the lowest rank first, FIFO among equals', () => {
    const q = new PriorityQueue<string>();
    q.push('c1', 3);
    q.push('a1', 1);
    q.push('c2', 3);
    q.push('b1', 2);
    q.push('a2', 1);
    expect([q.shift(), q.shift(), q.shift(), q.shift(), q.shift(), q.shift()]).toEqual([
      'a1',
      'a2',
      'b1',
      'c1',
      'c2',
      undefined,
    ]);
  });

  it('removes a waiting entry', () => {
    const q = new PriorityQueue<string>();
    q.push('x', 1);
    q.push('y', 2);
    expect(q.remove('x')).toBe(true);
    expect(q.remove('x')).toBe(false);
    expect(q.size).toBe(1);
  });
});

describe('Slots', () => {
  it('hands a freed slot to the most urgent waiter, not the oldest', async () => {
    const slots = new Slots(1);
    const first = await slots.acquire(5);
    const order: string[] = [];
    const low = slots.acquire(9).then((release) => {
      order.push('low');
      release();
    });
    const high = slots.acquire(1).then((release) => {
      order.push('high');
      release();
    });
    first();
    await Promise.all([low, high]);
    expect(order).toEqual(['high', 'low']);
    expect(slots.inUse).toBe(0);
  });

  it('never exceeds its capacity', async () => {
    const slots = new Slots(3);
    let active = 0;
    let peak = 0;
    await Promise.all(
      Array.from({ length: 20 }, async (_, i) => {
        const release = await slots.acquire(i);
        active++;
        peak = Math.max(peak, active);
        await delay(1);
        active--;
        release();
      }),
    );
    expect(peak).toBe(3);
  });

  it('rejects a waiter whose signal aborts, and releasing twice is harmless', async () => {
    const slots = new Slots(1);
    const release = await slots.acquire(0);
    const controller = new AbortController();
    const waiting = slots.acquire(1, controller.signal);
    controller.abort(new Error('stop'));
    await expect(waiting).rejects.toThrow('stop');
    release();
    release();
    expect(slots.inUse).toBe(0);
    expect(await slots.acquire(0)).toBeTypeOf('function');
  });

  it('grows at once and shrinks as slots are released, taking none back', async () => {
    const slots = new Slots(2);
    const held = [await slots.acquire(0), await slots.acquire(0)];
    const started: number[] = [];
    const waiting = [1, 2, 3].map((rank) =>
      slots.acquire(rank).then((release) => {
        started.push(rank);
        return release;
      }),
    );
    slots.capacity = 4;
    const [first, second] = await Promise.all(waiting.slice(0, 2));
    expect(started).toEqual([1, 2]);
    expect(slots.inUse).toBe(4);
    slots.capacity = 1;
    for (const release of [...held, first!]) release();
    // Three released above the new capacity: the waiter still waits.
    expect(slots.inUse).toBe(1);
    expect(slots.waiting).toBe(1);
    second!();
    (await waiting[2]!)();
    expect(started).toEqual([1, 2, 3]);
    expect(slots.inUse).toBe(0);
    expect(() => (slots.capacity = 0)).toThrow(RangeError);
  });

  it("rejects only the aborted signal's waiters; the others keep their turn", async () => {
    const slots = new Slots(1);
    const release = await slots.acquire(0);
    const round = new AbortController();
    const run = new AbortController();
    const cut = [slots.acquire(1, round.signal), slots.acquire(3, round.signal)];
    const kept = slots.acquire(2, run.signal);
    round.abort(new Error('round over'));
    for (const waiting of cut) await expect(waiting).rejects.toThrow('round over');
    release();
    const next = await kept;
    expect(slots.inUse).toBe(1);
    next();
    expect(slots.inUse).toBe(0);
    // The aborted signal's listener is spent: a later wait with it is refused at once.
    await expect(slots.acquire(0, round.signal)).rejects.toThrow('round over');
  });
});

describe('whenAborted', () => {
  it('calls every watcher once with the reason, on one listener, except those taken back', () => {
    const controller = new AbortController();
    const added = vi.spyOn(controller.signal, 'addEventListener');
    const seen: unknown[] = [];
    whenAborted(controller.signal, (reason) => seen.push(['a', reason]));
    const unwatch = whenAborted(controller.signal, (reason) => seen.push(['b', reason]));
    whenAborted(controller.signal, (reason) => seen.push(['c', reason]));
    unwatch();
    controller.abort('stop');
    controller.abort('again');
    expect(seen).toEqual([
      ['a', 'stop'],
      ['c', 'stop'],
    ]);
    expect(added).toHaveBeenCalledTimes(1);
  });
});

describe('delay', () => {
  it('rejects at once when aborted, and leaves no timer behind', async () => {
    // On a fake clock that never moves: only the abort can settle it, and its timer must be cleared.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    try {
      const controller = new AbortController();
      const waiting = delay(10_000, controller.signal);
      expect(vi.getTimerCount()).toBe(1);
      controller.abort(new Error('ctrl-c'));
      await expect(waiting).rejects.toThrow('ctrl-c');
      expect(vi.getTimerCount()).toBe(0);
    } finally {
      vi.useRealTimers();
    }
  });

  it('resolves after its time, not before', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    try {
      let done = false;
      const waiting = delay(10_000, new AbortController().signal).then(() => (done = true));
      await vi.advanceTimersByTimeAsync(9_999);
      expect(done).toBe(false);
      await vi.advanceTimersByTimeAsync(1);
      await waiting;
      expect(done).toBe(true);
    } finally {
      vi.useRealTimers();
    }
  });
});

describe('RateLimiter', () => {
  it('lets a burst through, then asks to wait in proportion to the debt', () => {
    let now = 0;
    const limiter = new RateLimiter(1_000_000, () => now);
    expect(limiter.reserve(250_000)).toBe(0);
    expect(limiter.reserve(500_000)).toBeCloseTo(500, 0);
    now = 500;
    expect(limiter.reserve(0)).toBe(0);
    now = 1500;
    expect(limiter.reserve(100_000)).toBe(0);
  });
});
