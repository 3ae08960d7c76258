import { displayUrl } from '../errors.js';
import type { Fragment } from '../manifest/fragment.js';
import { endpointOf } from './by-origin.js';

/** Fragments that name one piece of content, downloaded as one (engine.ts `groupByKey`). */
export interface PendingGroup {
  key: string;
  group: Fragment[];
  rank: number;
  /** Started, or handed to a cut of its object: the engine's loop passes it by. */
  started: boolean;
}

export interface ProbeHooks {
  /** Starts a group that waited for its object's answer, at its rank. */
  launch(pending: PendingGroup): void;
  /** Downloads the object once and cuts these groups' windows out of it (cut-object.ts). */
  cut(members: PendingGroup[]): void;
  warn(message: string): void;
}

type RangeSupport = 'probing' | 'honoured' | 'ignored';

/**
 * Whether each remote object honours Range, learnt from the first range request made to it. Until
 * that answer, the other byte-range fragments of the object wait instead of all asking at once: a
 * server that ignores Range answers every one of them with the whole object (156 fragments of two
 * files cost 38 times their size). Once an object is seen to ignore Range, its fragments not yet
 * done are cut out of one download of it.
 */
export class RangeProbes {
  readonly #hooks: ProbeHooks;
  readonly #support = new Map<string, RangeSupport>();
  readonly #parked = new Map<string, PendingGroup[]>();
  readonly #byObject = new Map<string, PendingGroup[]>();
  readonly #byFragment = new Map<Fragment, PendingGroup>();
  readonly #warned = new Set<string>();
  /** Fragments whose download stopped to join a cut: their failure is not theirs to report. */
  readonly handedOver = new Set<Fragment>();

  constructor(pending: readonly PendingGroup[], hooks: ProbeHooks) {
    this.#hooks = hooks;
    for (const entry of pending) {
      const object = objectOf(entry);
      if (object === undefined) continue;
      this.#byFragment.set(entry.group[0]!, entry);
      const list = this.#byObject.get(object);
      if (list) list.push(entry);
      else this.#byObject.set(object, [entry]);
    }
  }

  /** True when the engine may start `entry` now; false when it waits for its object's first answer. */
  admit(entry: PendingGroup): boolean {
    const object = objectOf(entry);
    if (object === undefined || (this.#byObject.get(object)?.length ?? 0) < 2) return true;
    const support = this.#support.get(object);
    if (support === undefined) this.#support.set(object, 'probing');
    if (support !== 'probing') return true;
    const parked = this.#parked.get(object);
    if (parked) parked.push(entry);
    else this.#parked.set(object, [entry]);
    return false;
  }

  /** `entry`'s download ended; if it was its object's probe and gave no answer, the others go ahead. */
  ended(entry: PendingGroup): void {
    const object = objectOf(entry);
    if (object !== undefined && this.#support.get(object) === 'probing') this.#release(object, 'honoured');
  }

  /**
   * A response to a range request of `fragment`: a 206 (`honoured`) or the whole object. Returns
   * true when the fragment's download is to stop: it and its object's fragments not yet started are
   * cut out of one download instead.
   */
  verdict(fragment: Fragment, honoured: boolean): boolean {
    const entry = this.#byFragment.get(fragment);
    const object = entry && objectOf(entry);
    if (!entry || object === undefined) return false;
    const support = this.#support.get(object);
    if (honoured) {
      if (support !== 'honoured' && support !== 'ignored') this.#release(object, 'honoured');
      return false;
    }
    this.#support.set(object, 'ignored');
    this.#parked.delete(object);
    const origin = endpointOf(fragment.urls[0]!);
    if (!this.#warned.has(origin)) {
      this.#warned.add(origin);
      this.#hooks.warn(`${displayUrl(origin)} ignores Range: fetching each object whole, once`);
    }
    const members = [entry, ...(this.#byObject.get(object) ?? []).filter((other) => !other.started)];
    for (const member of members) member.started = true;
    this.handedOver.add(fragment);
    this.#hooks.cut(members);
    return true;
  }

  #release(object: string, support: RangeSupport): void {
    this.#support.set(object, support);
    const parked = this.#parked.get(object) ?? [];
    this.#parked.delete(object);
    for (const entry of parked) if (!entry.started) this.#hooks.launch(entry);
  }
}

/** The object a byte-range fragment is cut from (by its first URL); whole objects have none here. */
function objectOf(entry: PendingGroup): string | undefined {
  const fragment = entry.group[0]!;
  return fragment.offset === undefined ? undefined : fragment.urls[0];
}
