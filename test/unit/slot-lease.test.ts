import { describe, expect, it } from 'vitest';
import { HeldSlot, SlotLease } from '../../src/schedule/slot-lease.js';
import { Slots } from '../../src/schedule/slots.js';

/** Whether `promise` has settled once the microtasks queued so far have run. */
async function settled(promise: Promise<unknown>): Promise<boolean> {
  let done = false;
  void promise.then(
    () => (done = true),
    () => (done = true),
  );
  await new Promise((resolve) => setImmediate(resolve));
  return done;
}

describe('SlotLease', () => {
  it('hands each slot over once; what is not taken goes back with release(), once', async () => {
    const slots = new Slots(4);
    const lease = await SlotLease.acquire(slots, 0, 3);
    expect(slots.inUse).toBe(3);
    const taken = lease.take()!;
    expect(lease.size).toBe(2);
    lease.release();
    lease.release();
    // The taken slot is the request's: the lease's release does not give it back.
    expect(slots.inUse).toBe(1);
    expect(lease.take()).toBeUndefined();
    taken.release();
    taken.release();
    expect(slots.inUse).toBe(0);
  });

  it('keeps the first `count` slots not taken and gives back the others', async () => {
    const slots = new Slots(4);
    const lease = await SlotLease.acquire(slots, 0, 4);
    lease.take();
    lease.keep(2);
    expect(lease.size).toBe(2);
    expect(slots.inUse).toBe(3);
    lease.keep(5);
    expect(slots.inUse).toBe(3);
  });

  it('is opened once every slot was answered or given back, not before', async () => {
    const slots = new Slots(4);
    const lease = await SlotLease.acquire(slots, 0, 3);
    const a = lease.take()!;
    const b = lease.take()!;
    a.answered();
    expect(await settled(lease.opened)).toBe(false);
    // An answer counts once, and a release after it adds nothing.
    a.answered();
    a.release();
    expect(await settled(lease.opened)).toBe(false);
    b.release();
    expect(await settled(lease.opened)).toBe(false);
    lease.keep(0);
    expect(await settled(lease.opened)).toBe(true);
    expect(slots.inUse).toBe(0);
  });

  it('gives back the slots it took when its wait for the next one is aborted', async () => {
    const slots = new Slots(2);
    const other = await slots.acquire(0);
    const controller = new AbortController();
    const leasing = SlotLease.acquire(slots, 1, 2, controller.signal);
    await new Promise((resolve) => setImmediate(resolve));
    expect(slots.inUse).toBe(2);
    controller.abort(new Error('stop'));
    await expect(leasing).rejects.toThrow('stop');
    expect(slots.inUse).toBe(1);
    other();
    expect(slots.inUse).toBe(0);
  });
});

describe('HeldSlot', () => {
  it('gives its slot back once and counts as answered once, however often either is called', () => {
    let released = 0;
    let answers = 0;
    const slot = new HeldSlot(
      () => released++,
      () => answers++,
    );
    slot.answered();
    slot.answered();
    expect([released, answers]).toEqual([0, 1]);
    slot.release();
    slot.release();
    expect([released, answers]).toEqual([1, 1]);
    // Given back before any answer: that counts as its answer.
    const unanswered = new HeldSlot(
      () => released++,
      () => answers++,
    );
    unanswered.release();
    expect([released, answers]).toEqual([2, 2]);
  });
});
