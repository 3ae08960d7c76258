import type { Slots } from './slots.js';

/**
 * One request's slot, owned by the code that makes that request: `release()` once the request is
 * over, or before a backoff (a wait holds no one else up); `answered()` when the server answered.
 * Both are idempotent, and a release counts as answered: a slot given back has nothing to wait for.
 */
export class HeldSlot {
  #release: (() => void) | undefined;
  #onAnswer: (() => void) | undefined;

  constructor(release: () => void, onAnswer?: () => void) {
    this.#release = release;
    this.#onAnswer = onAnswer;
  }

  /** A slot of its own, for a request that no lease covers (a retry, a download started late). */
  static async acquire(slots: Slots, rank: number, signal?: AbortSignal): Promise<HeldSlot> {
    return new HeldSlot(await slots.acquire(rank, signal));
  }

  answered(): void {
    const onAnswer = this.#onAnswer;
    this.#onAnswer = undefined;
    onAnswer?.();
  }

  release(): void {
    this.answered();
    const release = this.#release;
    this.#release = undefined;
    release?.();
  }
}

/**
 * The request slots a download starts with, acquired by the scheduler before the download starts
 * (fetch/schedule.ts): one, or a large object's first connections. The lease has one owner at a
 * time: whoever it is handed to last either hands a slot over to the request that uses it
 * (`take`: the HeldSlot is then that request's to release), or gives the slots back (`keep`,
 * `release`). Nothing is released twice and nothing is left held: `release()` is idempotent and
 * gives back whatever was not taken.
 *
 * `opened` settles once every slot has been given back or has carried a request the server
 * answered, so that the scheduler knows the download's first round is under way at the server, not
 * merely queued on our side.
 */
export class SlotLease {
  #slots: (() => void)[];
  #unanswered: number;
  #opened: Promise<void> | undefined;
  #resolve: (() => void) | undefined;

  constructor(slots: readonly (() => void)[]) {
    this.#slots = [...slots];
    this.#unanswered = slots.length;
  }

  /** `count` slots at `rank`, taken one by one; on an abort, those already taken are given back. */
  static async acquire(slots: Slots, rank: number, count: number, signal?: AbortSignal): Promise<SlotLease> {
    const held: (() => void)[] = [];
    try {
      while (held.length < count) held.push(await slots.acquire(rank, signal));
    } catch (error) {
      for (const release of held) release();
      throw error;
    }
    return new SlotLease(held);
  }

  /** Slots held and not yet taken. */
  get size(): number {
    return this.#slots.length;
  }

  /** Made only when asked for: the lease of a small object's single slot is never awaited. */
  get opened(): Promise<void> {
    this.#opened ??= new Promise((resolve) => {
      this.#resolve = resolve;
      this.#check();
    });
    return this.#opened;
  }

  /** Hands one slot over to a request: from now on it is the request's to release. */
  take(): HeldSlot | undefined {
    const release = this.#slots.shift();
    if (!release) return undefined;
    return new HeldSlot(release, () => {
      this.#unanswered--;
      this.#check();
    });
  }

  /** Gives back every slot not taken beyond the first `count`. */
  keep(count: number): void {
    if (this.#slots.length <= count) return;
    const given = this.#slots.splice(count);
    this.#unanswered -= given.length;
    for (const release of given) release();
    this.#check();
  }

  /** Gives back every slot not taken. */
  release(): void {
    this.keep(0);
  }

  #check(): void {
    if (this.#unanswered === 0) this.#resolve?.();
  }
}
