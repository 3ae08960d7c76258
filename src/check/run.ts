import { setMaxListeners } from 'node:events';
import { FragfetchError } from '../errors.js';
import type { Fragment, Manifest } from '../manifest/fragment.js';
import { delay } from '../net/delay.js';
import { manifestTrust } from '../manifest/trust.js';
import { HttpClient, type NetworkOptions } from '../net/http.js';
import { INSECURE_WARNING } from '../net/tls.js';
import { isRetryableStatus, parseRetryAfter, type RetryPolicy, retryDelay } from '../net/retry.js';
import { Slots } from '../schedule/slots.js';
import { classify, describeError, isDefinitive, mirrorFindings } from './classify.js';
import { probeDeep } from './deep.js';
import { endpointOf } from './endpoint.js';
import { EndpointGate, type ProbeError } from './gate.js';
import { type Answer, probeRange } from './probe.js';
import { buildReport } from './report.js';
import { sampleFragments } from './sample.js';
import type { CheckReport, Observation, ProbeResult } from './types.js';

export interface CheckOptions {
  /** Probes in flight at once. */
  concurrency?: number; // 16
  /** Retries of a transient failure (connection reset, 5xx, 429); a timeout is never retried. */
  retries?: number; // 2
  /** Connect, response-headers and body-silence timeout, ms. */
  timeoutMs?: number; // 10 s
  headers?: Record<string, string>;
  /** Proxies, TLS, credentials. */
  network?: NetworkOptions;
  /** Probe this many fragments (all critical ones always), spread across priorities. */
  sample?: number;
  /** Shuffle within each priority before sampling. */
  seed?: number;
  /** Download and verify each fragment instead of probing one byte. */
  deep?: boolean;
  /** Warnings fail the check too. */
  strict?: boolean;
  signal?: AbortSignal;
  /** Called as each probe is judged (`--verbose`). */
  onResult?(result: ProbeResult): void;
  /** Injected by tests to make backoff deterministic. */
  random?: () => number;
  baseDelayMs?: number;
}

import { checkDefaults } from './defaults.js';

export { checkDefaults };

/** A check is a quick verdict: short backoffs, and a Retry-After longer than this is not waited out. */
const CHECK_RETRY: Omit<RetryPolicy, 'retries' | 'baseDelayMs'> = {
  maxDelayMs: 2_000,
  maxRetryAfterMs: 5_000,
};

interface Task {
  fragment: Fragment;
  url: string;
  endpoint: string;
}

/** Probes every (sampled) fragment on every endpoint and judges the answers; never throws but on abort. */
export async function checkManifest(manifest: Manifest, options: CheckOptions = {}): Promise<CheckReport> {
  const started = performance.now();
  const concurrency = options.concurrency ?? checkDefaults.concurrency;
  const timeoutMs = options.timeoutMs ?? checkDefaults.timeoutMs;
  // Our own signal, following the caller's: every probe, slot wait and backoff listens to it, far
  // more than EventTarget's default of ten listeners, which would otherwise warn of a leak.
  const outer = options.signal;
  const controller = new AbortController();
  setMaxListeners(0, controller.signal);
  const forward = () => controller.abort(outer?.reason);
  if (outer?.aborted) forward();
  else outer?.addEventListener('abort', forward, { once: true });
  const signal = controller.signal;
  const policy: RetryPolicy = {
    ...CHECK_RETRY,
    retries: options.retries ?? checkDefaults.retries,
    baseDelayMs: options.baseDelayMs ?? checkDefaults.baseDelayMs,
  };
  const fragments = sampleFragments(manifest.fragments, options.sample, options.seed);
  const tasks: Task[] = fragments.flatMap((fragment) =>
    fragment.urls.map((url) => ({ fragment, url, endpoint: endpointOf(url, fragment.path) })),
  );
  const gates = new Map<string, EndpointGate>();
  for (const task of tasks) if (!gates.has(task.endpoint)) gates.set(task.endpoint, new EndpointGate(task));

  const http = new HttpClient({
    ...options.network,
    timeoutMs,
    stallTimeoutMs: timeoutMs,
    headers: options.headers ?? {},
    trust: manifestTrust(manifest),
  });
  const slots = new Slots(concurrency);
  const observations = new Map<Task, { observation: Observation; skipped: boolean }>();
  const skip = (task: Task, down: ProbeError) => {
    const error = { ...down, message: `not probed, endpoint down: ${down.message}` };
    const observation: Observation = { method: 'GET', durationMs: 0, attempts: 0, bytesRead: 0, error };
    observations.set(task, { observation, skipped: true });
  };

  const runTask = async (task: Task, rank: number): Promise<void> => {
    const gate = gates.get(task.endpoint)!;
    const first = gate.isFirst(task);
    try {
      if (!first) await gate.ready;
      if (gate.down !== undefined) return skip(task, gate.down);
      const release = await slots.acquire(rank, signal);
      // The gate may have closed while this probe waited for a slot.
      if (gate.down !== undefined) {
        release();
        return skip(task, gate.down);
      }
      const acquire = () => slots.acquire(rank, signal);
      const observation = await probeWithRetries(
        http,
        task,
        { signal, policy, timeoutMs, options, acquire },
        release,
      );
      observations.set(task, { observation, skipped: false });
      gate.record(observation);
    } finally {
      // Even when aborted: the others must not wait forever on a first probe that never ran.
      if (first) gate.open();
    }
  };

  try {
    const settled = await Promise.allSettled(tasks.map(runTask));
    const failure = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (failure !== undefined && !signal.aborted) throw failure.reason;
  } finally {
    outer?.removeEventListener('abort', forward);
    // After an abort nothing is worth waiting for; otherwise let keep-alive sockets close cleanly.
    if (signal.aborted) http.destroy();
    else await http.close().catch(() => http.destroy());
  }

  const results = judge(tasks, observations, options.onResult);
  const report = buildReport(manifest, results, {
    fragments: fragments.length,
    strict: options.strict ?? false,
    deep: options.deep ?? false,
    interrupted: signal.aborted,
    durationMs: performance.now() - started,
  });
  if (options.network?.tls?.insecure) report.warnings = [INSECURE_WARNING];
  return report;
}

/** Classifies each probe, then adds the cross-endpoint warnings fragment by fragment. */
function judge(
  tasks: readonly Task[],
  observations: Map<Task, { observation: Observation; skipped: boolean }>,
  onResult: CheckOptions['onResult'],
): ProbeResult[] {
  const byFragment = new Map<Fragment, ProbeResult[]>();
  for (const task of tasks) {
    const seen = observations.get(task);
    if (seen === undefined) continue; // interrupted before it ran
    const result: ProbeResult = {
      ...task,
      ...seen,
      findings: classify(task.fragment, seen.observation),
    };
    const group = byFragment.get(task.fragment) ?? [];
    group.push(result);
    byFragment.set(task.fragment, group);
  }
  const results: ProbeResult[] = [];
  for (const group of byFragment.values()) {
    mirrorFindings(group).forEach((finding, i) => {
      if (finding !== undefined) group[i]!.findings.push(finding);
    });
    for (const result of group) onResult?.(result);
    results.push(...group);
  }
  return results;
}

interface ProbeContext {
  signal: AbortSignal;
  policy: RetryPolicy;
  timeoutMs: number;
  options: CheckOptions;
  /** A request slot for an attempt after the first. */
  acquire(): Promise<() => void>;
}

/**
 * Probes once, and again after a backoff while the failure is transient and the budget lasts. Two
 * limits keep a check quick: a timeout or a stall is not retried (it has already cost a whole
 * `--timeout`), and no retry starts once the probe has spent `--timeout` in attempts and waits, so
 * a flapping endpoint costs each probe at most about two timeouts whatever `--retries` says.
 */
async function probeWithRetries(
  http: HttpClient,
  task: Task,
  ctx: ProbeContext,
  slot: () => void,
): Promise<Observation> {
  const started = performance.now();
  // A slot is held for one attempt, not through the backoff after it: the wait holds no one else up.
  let release: (() => void) | undefined = slot;
  try {
    for (let attempt = 1; ; attempt++) {
      release ??= await ctx.acquire();
      const outcome = await attemptProbe(http, task, ctx, attempt, started);
      if ('observation' in outcome) return outcome.observation;
      release();
      release = undefined;
      await delay(outcome.wait, ctx.signal);
    }
  } finally {
    release?.();
  }
}

/** One attempt: its observation when it is final, else the backoff before the next. */
async function attemptProbe(
  http: HttpClient,
  task: Task,
  ctx: ProbeContext,
  attempt: number,
  started: number,
): Promise<{ observation: Observation } | { wait: number }> {
  let answer: Answer | undefined;
  let error: unknown;
  try {
    answer = ctx.options.deep
      ? await probeDeep(http, task.fragment, task.url, ctx.signal)
      : await probeRange(http, task.url, task.fragment.offset ?? 0, ctx.signal);
  } catch (caught) {
    if (ctx.signal.aborted) throw caught;
    error = caught;
  }
  const wait = nextWait(attempt, answer, error, task.url, ctx, performance.now() - started);
  if (wait !== undefined) return { wait };
  const durationMs = performance.now() - started;
  if (answer !== undefined) {
    const { retryAfter: _, ...seen } = answer;
    return { observation: { ...seen, attempts: attempt, durationMs } };
  }
  const failure = describeError(error, ctx.timeoutMs);
  return { observation: { method: 'GET', bytesRead: 0, attempts: attempt, durationMs, error: failure } };
}

/** The backoff before the next attempt, or undefined when this attempt's outcome is final. */
function nextWait(
  attempt: number,
  answer: Answer | undefined,
  error: unknown,
  url: string,
  ctx: ProbeContext,
  elapsedMs: number,
): number | undefined {
  let transient: unknown;
  if (answer === undefined) transient = error;
  else if (answer.status !== undefined && isRetryableStatus(answer.status))
    transient = statusError(answer, url);
  if (transient === undefined) return undefined;
  if (transient instanceof FragfetchError && (transient.code === 'ETIMEOUT' || transient.code === 'ESTALL'))
    return undefined;
  if (isDefinitive(transient)) return undefined;
  const wait = retryDelay(attempt, transient, ctx.policy, ctx.options.random);
  // Retries fit within the probe's timeout; a timeout of 0 is none, and leaves them to --retries.
  const budget = ctx.timeoutMs > 0 ? ctx.timeoutMs : Number.POSITIVE_INFINITY;
  return wait === undefined || elapsedMs + wait > budget ? undefined : wait;
}

function statusError(answer: Answer, url: string): FragfetchError {
  return new FragfetchError('EHTTP', `HTTP ${answer.status}`, {
    url,
    status: answer.status!,
    retryAfterMs: parseRetryAfter(answer.retryAfter),
  });
}
