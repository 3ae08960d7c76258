/**
 * A link for AdaptiveConcurrency's tests, simulated in steps of 1 ms on the controller's injected
 * clock: every request waits a round trip (two on a new connection: its handshake), then shares the
 * link's bandwidth with the others transferring. Each round trip is drawn within ±25 % of the
 * model's (seeded), so requests do not all wait and transfer in step. The controller sets how many are in flight; the
 * model counts what a run cost (its time, the connections it opened, the limits it went through).
 */
import { AdaptiveConcurrency } from '../../src/fetch/adaptive-concurrency.js';

export interface LinkModel {
  /** Round trip, ms: a request's wait before its first byte; a new connection's handshake adds one. */
  rttMs: number;
  /** The link's (or the client's) bytes per ms, shared by the requests transferring. */
  bytesPerMs: number;
  objects: number;
  objectBytes: number;
  initial?: number;
  max?: number;
}

export interface LinkRun {
  /** Simulated ms until the last object ended. */
  ms: number;
  /** Connections opened (one closes when its request ends above the limit). */
  connections: number;
  /** Every limit the controller set, in order, with the ms it was set at. */
  limits: { at: number; limit: number }[];
  /** The first ms at which the limit was `limit` or more; undefined if never. */
  reached(limit: number): number | undefined;
  final: number;
}

interface Request {
  startedAt: number;
  /** ms from which its bytes flow: a round trip after it started, two on a new connection. */
  flowsAt: number;
  left: number;
}

export function runLink(model: LinkModel): LinkRun {
  const clock = { t: 0 };
  const control = new AdaptiveConcurrency({
    initial: model.initial ?? 16,
    max: model.max ?? 64,
    now: () => clock.t,
  });
  const limits = [{ at: 0, limit: control.limit }];
  let seed = 1;
  const roundTrip = () => {
    seed = (seed * 48271) % 2147483647;
    return model.rttMs * (0.75 + (0.5 * seed) / 2147483647);
  };
  let queued = model.objects;
  let connections = 0;
  let idle = 0;
  const active: Request[] = [];
  const start = () => {
    while (queued > 0 && active.length < control.limit) {
      queued--;
      const fresh = idle === 0;
      if (fresh) connections++;
      else idle--;
      const flowsAt = clock.t + roundTrip() + (fresh ? roundTrip() : 0);
      active.push({ startedAt: clock.t, flowsAt, left: model.objectBytes });
    }
  };
  start();
  while (active.length > 0) {
    clock.t += 1;
    const flowing = active.filter((request) => request.flowsAt <= clock.t);
    const share = flowing.length === 0 ? 0 : model.bytesPerMs / flowing.length;
    for (const request of flowing) {
      const bytes = Math.min(request.left, share);
      request.left -= bytes;
      control.bytes(bytes);
    }
    for (const request of flowing) {
      if (request.left > 1e-9) continue;
      active.splice(active.indexOf(request), 1);
      idle++;
      const changed = control.ended(false, queued > 0, clock.t - request.startedAt);
      if (changed !== undefined) limits.push({ at: clock.t, limit: changed });
    }
    // Connections above the limit close as their requests end: only the limit's may stay idle.
    idle = Math.min(idle, Math.max(0, control.limit - active.length));
    start();
  }
  return {
    ms: clock.t,
    connections,
    limits,
    reached: (limit) => limits.find((entry) => entry.limit >= limit)?.at,
    final: control.limit,
  };
}
