import type { Observation } from './types.js';

export type ProbeError = NonNullable<Observation['error']>;

/**
 * After this many probes of an endpoint in a row got no answer, the endpoint is taken for dead and
 * the rest of its probes are not sent: an endpoint that dies halfway through a large check costs a
 * few timeouts (those already in flight), not one per remaining fragment.
 */
const CONSECUTIVE_UNREACHABLE = 3;

/** Failures that prove nothing answered: no connection, or no response headers in time. */
const NO_ANSWER = new Set(['ENETWORK', 'ETIMEOUT', 'ETLS']);

/**
 * Fail-fast for one endpoint. A dead endpoint must cost about one `--timeout`, not one per fragment:
 *
 *   first probe ──(alone)──► answered (any status, even 404) ──► every other probe is sent
 *                        └─► no answer (refused, DNS, TLS, timeout) ──► the others fail at once,
 *                                                                      "not probed, endpoint down"
 *
 * The others wait on `ready` without holding a request slot, so the first probes of all endpoints
 * start together. Later, `CONSECUTIVE_UNREACHABLE` no-answers in a row also close the gate.
 */
export class EndpointGate {
  readonly #first: object;
  readonly ready: Promise<void>;
  #open!: () => void;
  #down: ProbeError | undefined;
  #unanswered = 0;
  #opened = false;

  /** `first`: the task that probes the endpoint before any other. */
  constructor(first: object) {
    this.#first = first;
    this.ready = new Promise<void>((resolve) => {
      this.#open = resolve;
    });
  }

  isFirst(task: object): boolean {
    return task === this.#first;
  }

  /** Why the endpoint is taken for dead, or undefined while it may still answer. */
  get down(): ProbeError | undefined {
    return this.#down;
  }

  /** Counts one probe's outcome towards the verdict on the endpoint. */
  record(observation: Observation): void {
    const error = observation.error;
    if (observation.status !== undefined || error === undefined || !NO_ANSWER.has(error.code)) {
      this.#unanswered = 0;
      return;
    }
    this.#unanswered++;
    // Before `open()`, this is the first probe: one no-answer is enough.
    if (!this.#opened || this.#unanswered >= CONSECUTIVE_UNREACHABLE) this.#down ??= error;
  }

  /** Lets the other probes go; called once the first probe has settled, whatever its outcome. */
  open(): void {
    this.#opened = true;
    this.#open();
  }
}
