/** What one request of a hedged pair is given: its own signal, and the claim on the answer. */
export interface HedgeLeg {
  signal: AbortSignal;
  /** Asked once its answer is accepted: true when it is the first, and the other leg is stopped. */
  claim(): boolean;
}

export interface HedgeOptions {
  /** How long the first request may go without an acceptable answer before the second is sent. */
  delayMs: number;
  signal: AbortSignal;
  primary: number;
  /** The endpoint of the second request, asked when it is due; undefined or `primary`: none. */
  alternate(): number | undefined;
  /** The abort reason of a leg that another answered before. */
  lost(endpoint: number): unknown;
  send(endpoint: number, leg: HedgeLeg): Promise<void>;
}

/**
 * A hedged request (as gRPC's hedging policy): the request to `primary`, and when no acceptable
 * answer came within `delayMs`, the same request to another endpoint; the first answer claims the
 * work and the other request is aborted. A mirror that accepts connections and never answers then
 * costs the delay, not the whole timeout. Resolves when a leg succeeds; rejects with the error of
 * the leg that claimed the work (its body failed), else of the second.
 */
export async function hedged(options: HedgeOptions): Promise<void> {
  const legs: { endpoint: number; stop: AbortController }[] = [];
  let winner: number | undefined;
  let decided!: () => void;
  const claimed = new Promise<void>((resolve) => {
    decided = resolve;
  });
  const send = (endpoint: number): Promise<void> => {
    const index = legs.length;
    const stop = new AbortController();
    legs.push({ endpoint, stop });
    const claim = () => {
      if (winner !== undefined) return winner === index;
      winner = index;
      for (const [other, leg] of legs.entries())
        if (other !== index) leg.stop.abort(options.lost(leg.endpoint));
      decided();
      return true;
    };
    return options.send(endpoint, { signal: AbortSignal.any([options.signal, stop.signal]), claim });
  };

  const primary = send(options.primary);
  let timer: NodeJS.Timeout | undefined;
  const due = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(true), options.delayMs);
  });
  const late = await Promise.race([
    due,
    claimed.then(() => false),
    primary.then(
      () => false,
      () => false,
    ),
  ]);
  clearTimeout(timer);
  const alternate = late && !options.signal.aborted ? options.alternate() : undefined;
  if (alternate === undefined || alternate === options.primary) return primary;
  const second = send(alternate);
  const outcomes = await Promise.allSettled([primary, second]);
  if (outcomes.some((outcome) => outcome.status === 'fulfilled')) return;
  // Without a winner, the second leg's error: the primary's silence is what it was sent for.
  throw (outcomes[winner ?? 1] as PromiseRejectedResult).reason;
}
