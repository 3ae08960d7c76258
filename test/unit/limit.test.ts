import { describe, expect, it } from 'vitest';
import { forEachLimit, limitConcurrency } from '../../src/schedule/limit.js';

interface Deferred {
  promise: Promise<void>;
  resolve(): void;
  reject(error: Error): void;
}

function deferred(): Deferred {
  let resolve!: () => void;
  let reject!: (error: Error) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** One turn of the event loop: every promise reaction queued so far has run. */
const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Tasks that each wait for their own deferred, counting how many run at once. */
function gatedTasks(count: number) {
  const gates = Array.from({ length: count }, deferred);
  const started: number[] = [];
  let active = 0;
  let most = 0;
  const task = async (_item: unknown, index: number) => {
    started.push(index);
    active++;
    most = Math.max(most, active);
    try {
      await gates[index]!.promise;
    } finally {
      active--;
    }
  };
  return {
    gates,
    started,
    task,
    get active() {
      return active;
    },
    get most() {
      return most;
    },
  };
}

describe('forEachLimit', () => {
  it('starts tasks in the items’ order, never more than the limit at once, and each item once', async () => {
    const items = Array.from({ length: 20 }, (_, i) => i);
    const run = gatedTasks(items.length);
    let settled = false;
    const done = forEachLimit(items, 4, run.task).then(() => {
      settled = true;
    });
    await turn();
    expect(run.started).toEqual([0, 1, 2, 3]);
    // Finish them out of order: the freed places go to the next items, in order.
    for (const index of [3, 0, 2, 1, 7, 5, 4, 6, 11, 10, 9, 8, 19, 18, 17, 16, 15, 14, 13, 12]) {
      run.gates[index]!.resolve();
      await turn();
      expect(run.active).toBeLessThanOrEqual(4);
    }
    await done;
    expect(settled).toBe(true);
    expect(run.most).toBe(4);
    expect(run.started).toEqual(items);
  });

  it('pulls a lazy iterable one item per free place', async () => {
    let pulled = 0;
    function* plan() {
      for (let i = 0; i < 1000; i++) {
        pulled++;
        yield i;
      }
    }
    const run = gatedTasks(1000);
    const done = forEachLimit(plan(), 3, run.task);
    await turn();
    expect(pulled).toBe(3);
    run.gates[1]!.resolve();
    await turn();
    expect(pulled).toBe(4);
    for (const gate of run.gates) gate.resolve();
    await done;
    expect(pulled).toBe(1000);
  });

  it('starts one task for a plan of one item, and none for an empty one', async () => {
    const one = gatedTasks(1);
    one.gates[0]!.resolve();
    await forEachLimit(['only'], 16, one.task);
    expect(one.started).toEqual([0]);
    const none = gatedTasks(0);
    await forEachLimit([], 16, none.task);
    expect(none.started).toEqual([]);
  });

  it('on the first error starts nothing more and rejects with it once the running tasks have settled', async () => {
    const run = gatedTasks(10);
    let settled = false;
    const done = forEachLimit(Array.from({ length: 10 }), 3, run.task).finally(() => {
      settled = true;
    });
    await turn();
    run.gates[1]!.reject(new Error('first'));
    await turn();
    expect(run.started).toEqual([0, 1, 2]);
    expect(settled).toBe(false); // 0 and 2 still run
    run.gates[2]!.reject(new Error('second'));
    await turn();
    expect(settled).toBe(false);
    run.gates[0]!.resolve();
    await expect(done).rejects.toThrow('first');
    expect(run.started).toEqual([0, 1, 2]);
  });

  it('treats an iterable that throws as a failed task', async () => {
    function* broken() {
      yield 0;
      throw new Error('plan broke');
    }
    const run = gatedTasks(1);
    run.gates[0]!.resolve();
    await expect(forEachLimit(broken(), 2, run.task)).rejects.toThrow('plan broke');
    expect(run.started).toEqual([0]);
  });

  it('on abort starts nothing more and rejects with the reason once the running tasks have settled', async () => {
    const controller = new AbortController();
    const run = gatedTasks(10);
    let settled = false;
    const done = forEachLimit(Array.from({ length: 10 }), 2, run.task, controller.signal).finally(() => {
      settled = true;
    });
    await turn();
    controller.abort(new Error('interrupted'));
    run.gates[0]!.resolve();
    await turn();
    expect(settled).toBe(false); // 1 still runs
    run.gates[1]!.resolve();
    await expect(done).rejects.toThrow('interrupted');
    expect(run.started).toEqual([0, 1]);
  });

  it('runs nothing under a signal already aborted', async () => {
    const run = gatedTasks(3);
    const reason = new Error('already');
    await expect(forEachLimit([1, 2, 3], 2, run.task, AbortSignal.abort(reason))).rejects.toBe(reason);
    expect(run.started).toEqual([]);
  });

  it('refuses a limit that is not a positive integer', async () => {
    for (const limit of [0, -1, 1.5, Number.NaN])
      await expect(forEachLimit([1], limit, async () => {})).rejects.toThrow(RangeError);
  });
});

describe('limitConcurrency', () => {
  it('runs at most `limit` tasks at once, in the order they were submitted, each settling as its task', async () => {
    const limit = limitConcurrency(2);
    const run = gatedTasks(6);
    const results = Array.from({ length: 6 }, (_, index) =>
      limit(async () => {
        await run.task(undefined, index);
        return index * 10;
      }),
    );
    await turn();
    expect(run.started).toEqual([0, 1]);
    run.gates[1]!.resolve();
    expect(await results[1]).toBe(10);
    await turn();
    expect(run.started).toEqual([0, 1, 2]);
    for (const index of [0, 3, 2, 5, 4]) {
      run.gates[index]!.resolve();
      await turn();
      expect(run.active).toBeLessThanOrEqual(2);
    }
    expect(await Promise.all(results)).toEqual([0, 10, 20, 30, 40, 50]);
    expect(run.most).toBe(2);
    expect(run.started).toEqual([0, 1, 2, 3, 4, 5]);
  });

  it('gives a task’s error to its caller only, and its place to the next task', async () => {
    const limit = limitConcurrency(1);
    const failing = limit(() => Promise.reject(new Error('one failed')));
    const next = limit(async () => 'next ran');
    await expect(failing).rejects.toThrow('one failed');
    expect(await next).toBe('next ran');
  });

  it('refuses a limit that is not a positive integer', () => {
    expect(() => limitConcurrency(0)).toThrow(RangeError);
  });
});
