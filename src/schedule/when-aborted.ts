type Watcher = (reason: unknown) => void;

const WATCHERS = new WeakMap<AbortSignal, Set<Watcher>>();

/**
 * Calls `then` with the signal's reason when it aborts; the returned function takes it back. Every
 * watcher of a signal shares one 'abort' listener: a run's signal is waited on by thousands of slot
 * waits and requests, and adding and removing a listener for each is paid per object on the main
 * thread. The signal must not be aborted yet (callers check `aborted` first).
 */
export function whenAborted(signal: AbortSignal, then: Watcher): () => void {
  let watchers = WATCHERS.get(signal);
  if (!watchers) {
    const all = new Set<Watcher>();
    signal.addEventListener(
      'abort',
      () => {
        for (const watcher of [...all]) watcher(signal.reason);
        all.clear();
      },
      { once: true },
    );
    WATCHERS.set(signal, all);
    watchers = all;
  }
  const set = watchers;
  set.add(then);
  return () => {
    set.delete(then);
  };
}
