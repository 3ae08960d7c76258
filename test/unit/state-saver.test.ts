import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { PartialState } from '../../src/cache/partial.js';
import { StateSaver } from '../../src/fetch/state-saver.js';

const MiB = 1024 * 1024;

/** A saver over a state whose spans end at `received`, writing to `saved`, each write held until released. */
function harness(size: number | undefined) {
  let received = 0;
  const saved: number[] = [];
  const pending: (() => void)[] = [];
  const saver = new StateSaver({
    write: (state: PartialState) =>
      new Promise<void>((resolve) => {
        pending.push(() => {
          saved.push(state.spans[0]?.end ?? 0);
          resolve();
        });
      }),
    state: () => ({ version: 1, key: 'k', spans: received === 0 ? [] : [{ start: 0, end: received }] }),
    size: () => size,
  });
  const receive = (bytes: number) => {
    received += bytes;
    saver.written(bytes);
  };
  /** Lets every write asked so far land, one by one, as the file system would. */
  const land = async () => {
    for (let turn = 0; turn < 50; turn++) {
      await Promise.resolve();
      pending.shift()?.();
    }
  };
  return { saver, saved, pending, receive, land };
}

describe('StateSaver', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('saves at the first answer only, before any byte', async () => {
    const { saver, saved, land } = harness(64 * MiB);
    saver.answered();
    await land();
    saver.answered();
    await land();
    expect(saved).toEqual([0]);
  });

  it('saves a second after bytes were written, with the state as it is then', async () => {
    const { saved, receive, land } = harness(64 * MiB);
    receive(1000);
    receive(2000);
    await land();
    expect(saved).toEqual([]);
    await vi.advanceTimersByTimeAsync(999);
    await land();
    expect(saved).toEqual([]);
    receive(500);
    await vi.advanceTimersByTimeAsync(1);
    await land();
    expect(saved).toEqual([3500]);
  });

  it('saves at once when a quarter of the loss bound is unsaved: 2 MiB under 160 MiB, 5 % / 4 above', async () => {
    const small = harness(64 * MiB);
    small.receive(2 * MiB - 1);
    await small.land();
    expect(small.saved).toEqual([]);
    small.receive(1);
    await small.land();
    expect(small.saved).toEqual([2 * MiB]);

    const large = harness(1024 * MiB);
    large.receive(12 * MiB);
    await large.land();
    expect(large.saved).toEqual([]);
    large.receive(1 * MiB);
    await large.land();
    expect(large.saved).toEqual([13 * MiB]);
  });

  it('never lands an older state after a newer one; one save waiting stands for all asked meanwhile', async () => {
    const { saver, saved, pending, receive, land } = harness(64 * MiB);
    receive(2 * MiB);
    // The first save runs (held by the file system); the next three ask while it does.
    await Promise.resolve();
    receive(2 * MiB);
    receive(2 * MiB);
    void saver.save();
    expect(pending).toHaveLength(1);
    await land();
    expect(saved).toEqual([2 * MiB, 6 * MiB]);
  });

  it('stop cancels the saves scheduled and waits for the one running', async () => {
    const { saver, saved, receive, land } = harness(64 * MiB);
    receive(1000);
    void saver.save();
    let stopped = false;
    const stopping = saver.stop().then(() => {
      stopped = true;
    });
    await Promise.resolve();
    expect(stopped).toBe(false);
    await land();
    await stopping;
    expect(stopped).toBe(true);
    await vi.advanceTimersByTimeAsync(5000);
    await land();
    expect(saved).toEqual([1000]);
  });

  it('a failed write is dropped and the next save tries again', async () => {
    let fail = true;
    const written: number[] = [];
    const saver = new StateSaver({
      write: async (state) => {
        if (fail) throw new Error('EIO');
        written.push(state.spans.length);
      },
      state: () => ({ version: 1, key: 'k', spans: [] }),
      size: () => undefined,
    });
    await saver.save();
    fail = false;
    await saver.save();
    expect(written).toEqual([0]);
  });
});
