import { describe, expect, it } from 'vitest';
import { runSegmentRound, type Segment, type SegmentRound } from '../../src/fetch/segment-round.js';

const segments = (count: number): Segment[] =>
  Array.from({ length: count }, (_, index) => ({ start: index * 10, end: index * 10 + 10 }));

/** Requests the test ends by hand, by segment start. */
function manual() {
  const started: number[] = [];
  const open = new Map<
    number,
    { resolve: () => void; reject: (e: unknown) => void; onHeaders?: () => void }
  >();
  const fetch: SegmentRound['fetch'] = (segment, signal, onHeaders) =>
    new Promise<void>((resolve, reject) => {
      started.push(segment.start);
      signal.addEventListener('abort', () => reject(signal.reason), { once: true });
      open.set(segment.start, { resolve, reject, ...(onHeaders ? { onHeaders } : {}) });
    });
  return { started, open, fetch };
}

const turns = async () => {
  for (let turn = 0; turn < 20; turn++) await Promise.resolve();
};

describe('runSegmentRound', () => {
  it('one segment: one request on the run signal, width 1', async () => {
    const { started, open, fetch } = manual();
    const widths: number[] = [];
    const signal = new AbortController().signal;
    const done = runSegmentRound({
      segments: segments(1),
      count: 1,
      width: 16,
      gated: true,
      signal,
      widthChosen: (w) => widths.push(w),
      fetch,
    });
    await turns();
    expect(started).toEqual([0]);
    expect(widths).toEqual([1]);
    open.get(0)!.resolve();
    await done;
  });

  it('gated: the others wait for the first response, then run `width` at once', async () => {
    const { started, open, fetch } = manual();
    const widths: number[] = [];
    const done = runSegmentRound({
      segments: segments(6),
      count: 6,
      width: 3,
      gated: true,
      signal: new AbortController().signal,
      widthChosen: (w) => widths.push(w),
      fetch,
    });
    await turns();
    expect(widths).toEqual([3]);
    expect(started).toEqual([0]);
    open.get(0)!.onHeaders!();
    await turns();
    expect(started).toEqual([0, 10, 20]);
    open.get(10)!.resolve();
    await turns();
    expect(started).toEqual([0, 10, 20, 30]);
    for (const start of [0, 20, 30, 40, 50]) {
      await turns();
      open.get(start)!.resolve();
    }
    await done;
    expect(started).toEqual([0, 10, 20, 30, 40, 50]);
  });

  it('one failed segment stops the others and fails the round with its error', async () => {
    const { started, open, fetch } = manual();
    const done = runSegmentRound({
      segments: segments(5),
      count: 5,
      width: 2,
      gated: false,
      signal: new AbortController().signal,
      widthChosen: () => {},
      fetch,
    });
    await turns();
    expect(started).toEqual([0, 10]);
    const failure = new Error('range refused');
    open.get(10)!.reject(failure);
    await expect(done).rejects.toBe(failure);
    expect(started).toEqual([0, 10]);
  });

  it("the run's abort fails the round with the run's reason", async () => {
    const { started, fetch } = manual();
    const run = new AbortController();
    const done = runSegmentRound({
      segments: segments(4),
      count: 4,
      width: 4,
      gated: false,
      signal: run.signal,
      widthChosen: () => {},
      fetch,
    });
    await turns();
    expect(started).toHaveLength(4);
    const reason = new Error('interrupted');
    run.abort(reason);
    await expect(done).rejects.toBe(reason);
  });
});
