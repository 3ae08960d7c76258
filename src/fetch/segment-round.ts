import { setMaxListeners } from 'node:events';
import { forEachLimit } from '../schedule/limit.js';

export interface Segment {
  start: number;
  end: number | undefined;
}

export interface SegmentRound {
  /** The segments to fetch, taken one by one as requests end: the plan may be larger than memory. */
  segments: Iterable<Segment>;
  /** How many `segments` holds. */
  count: number;
  /** The most requests at once. */
  width: number;
  /** True until a response shows whether Range is honoured: the first request then goes alone. */
  gated: boolean;
  /** The run's: aborting it stops every request of the round. */
  signal: AbortSignal;
  /** Told how many requests the round runs at once, before the first is made. */
  widthChosen: (width: number) => void;
  /**
   * Fetches one segment (with its retries); `signal` stops it with the round, `onHeaders` (the first
   * request of a gated round) opens the gate for the others.
   */
  fetch: (segment: Segment, signal: AbortSignal, onHeaders?: () => void) => Promise<void>;
}

/**
 * Fetches a round of segments with up to `width` requests at once. One failed segment stops the
 * others and fails the round; the run's abort fails it with the run's reason.
 */
export async function runSegmentRound(round: SegmentRound): Promise<void> {
  const { signal } = round;
  const plan = round.segments[Symbol.iterator]();
  const first = plan.next();
  if (first.done) return;
  const second = plan.next();
  if (second.done) {
    // One request, no siblings to stop or to hold at a gate: most objects, and every small one,
    // whose round controller, listener and worker promises cost more than the rest of the setup.
    round.widthChosen(1);
    await round.fetch(first.value, signal);
    return;
  }
  const stopped = new AbortController();
  // Each of up to maxConnectionsPerObject (16) requests listens to it: over EventTarget's ten,
  // Node would print a leak warning on the user's terminal.
  setMaxListeners(0, stopped.signal);
  const stop = () => stopped.abort(signal.reason);
  signal.addEventListener('abort', stop, { once: true });
  let openGate!: () => void;
  const gate = round.gated
    ? new Promise<void>((resolve) => {
        openGate = resolve;
      })
    : undefined;
  const fetchOne = async (segment: Segment, index: number) => {
    const opens = index === 0;
    try {
      if (!opens && gate) await gate;
      // The first request failed (or the run stopped) while this one waited at the gate.
      if (stopped.signal.aborted) return;
      await round.fetch(segment, stopped.signal, opens ? openGate : undefined);
    } catch (error) {
      stopped.abort(error);
      throw error;
    } finally {
      if (opens) openGate?.();
    }
  };
  const width = Math.min(round.width, round.count);
  round.widthChosen(width);
  try {
    await forEachLimit(andThen([first.value, second.value], plan), width, fetchOne, stopped.signal);
  } catch (error) {
    if (signal.aborted) throw signal.reason;
    throw error;
  } finally {
    signal.removeEventListener('abort', stop);
  }
  if (signal.aborted) throw signal.reason;
}

/** `taken` (items already pulled from `rest`), then what `rest` still holds, pulled lazily. */
function* andThen<T>(taken: readonly T[], rest: Iterator<T>): Generator<T> {
  yield* taken;
  for (let next = rest.next(); !next.done; next = rest.next()) yield next.value;
}
