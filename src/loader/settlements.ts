import type { SettledOutcome } from '../fetch/engine.js';
import type { Fragment } from '../manifest/fragment.js';

/** How a fragment of a run ended: in the cache (how it got there), or failed with its error. */
export type Settlement =
  | { fragment: Fragment; outcome: Exclude<SettledOutcome, 'failed'> }
  | {
      fragment: Fragment;
      outcome: 'failed';
      error: unknown;
    };

/**
 * The fragments of one run as they settle, for two readers: `next()` in the order they settled, and
 * `of(fragment)` for one fragment, whenever it settles. Pure bookkeeping; the run reports into it.
 */
export class Settlements {
  readonly #byFragment = new Map<Fragment, Settlement>();
  readonly #waiting = new Map<Fragment, ((settlement: Settlement) => void)[]>();
  readonly #arrived: Settlement[] = [];
  #wake: (() => void) | undefined;
  #closed: Error | undefined;

  /** The run's report of one fragment; only the first of a fragment counts. */
  settle(settlement: Settlement): void {
    if (this.#byFragment.has(settlement.fragment)) return;
    this.#byFragment.set(settlement.fragment, settlement);
    this.#arrived.push(settlement);
    for (const resolve of this.#waiting.get(settlement.fragment) ?? []) resolve(settlement);
    this.#waiting.delete(settlement.fragment);
    this.#wake?.();
  }

  /** The run is over: fragments it never settled (an interrupted run) fail with `reason`. */
  close(reason: Error, fragments: Iterable<Fragment>): void {
    for (const fragment of fragments) this.settle({ fragment, outcome: 'failed', error: reason });
    this.#closed = reason;
    this.#wake?.();
  }

  of(fragment: Fragment): Promise<Settlement> {
    const known = this.#byFragment.get(fragment);
    if (known) return Promise.resolve(known);
    return new Promise((resolve) => {
      const list = this.#waiting.get(fragment) ?? [];
      list.push(resolve);
      this.#waiting.set(fragment, list);
    });
  }

  /** The next settlement in arrival order; undefined once the run is closed and all were read. */
  async next(): Promise<Settlement | undefined> {
    for (;;) {
      const settlement = this.#arrived.shift();
      if (settlement) return settlement;
      if (this.#closed) return undefined;
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
      });
      this.#wake = undefined;
    }
  }
}
