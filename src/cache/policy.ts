/**
 * Pure cache policy: which entries a prune drops, when a hit refreshes its last-use time, and when a
 * lock is stale. No I/O here, so each rule is unit-tested with plain values.
 */

/** What the policy needs to know of one index entry. */
export interface EntryFacts {
  key: string;
  integrity: string;
  size: number;
  /** Last use (ms since the epoch): cacache's index `time`, refreshed on hits. */
  time: number;
}

export interface PrunePolicy {
  /** Keys that must stay whatever else says (what the current or `--keep` manifests need). */
  keep?: ReadonlySet<string>;
  /** With `keep` given on the command line: drop every entry not kept. */
  onlyKept?: boolean;
  /** Drop least-recently used entries until the content left is at most this many bytes. */
  maxSize?: number;
  /** Drop entries not used for longer than this. */
  olderThanMs?: number;
  now?: number;
}

export interface PruneSelection {
  /** Index entries to remove. */
  drop: EntryFacts[];
  /** Content (by integrity) no remaining entry refers to: removed with them. */
  freedContent: Map<string, number>;
  bytesFreed: number;
  /** Bytes of content left. */
  bytesLeft: number;
}

/**
 * Selects what a prune removes. Content is shared by entries of the same integrity, so bytes are
 * counted per content, and content is freed only when no entry that stays still refers to it.
 * Least-recently used first; ties by key so the result does not depend on listing order.
 */
export function selectPrune(entries: readonly EntryFacts[], policy: PrunePolicy): PruneSelection {
  const now = policy.now ?? Date.now();
  const keep = policy.keep ?? new Set<string>();
  const byAge = [...entries].sort((a, b) => a.time - b.time || a.key.localeCompare(b.key));
  const refs = new Map<string, number>();
  const sizeOf = new Map<string, number>();
  for (const entry of entries) {
    refs.set(entry.integrity, (refs.get(entry.integrity) ?? 0) + 1);
    sizeOf.set(entry.integrity, Math.max(sizeOf.get(entry.integrity) ?? 0, entry.size));
  }
  let bytesLeft = [...sizeOf.values()].reduce((sum, size) => sum + size, 0);
  const drop: EntryFacts[] = [];
  const freedContent = new Map<string, number>();
  const remove = (entry: EntryFacts) => {
    drop.push(entry);
    const left = (refs.get(entry.integrity) ?? 1) - 1;
    refs.set(entry.integrity, left);
    if (left === 0) {
      const size = sizeOf.get(entry.integrity) ?? 0;
      freedContent.set(entry.integrity, size);
      bytesLeft -= size;
    }
  };
  for (const entry of byAge) {
    if (keep.has(entry.key)) continue;
    const tooOld = policy.olderThanMs !== undefined && now - entry.time > policy.olderThanMs;
    const tooBig = policy.maxSize !== undefined && bytesLeft > policy.maxSize;
    if (policy.onlyKept || tooOld || tooBig) remove(entry);
  }
  const bytesFreed = [...freedContent.values()].reduce((sum, size) => sum + size, 0);
  return { drop, freedContent, bytesFreed, bytesLeft };
}

/**
 * A hit rewrites its index entry (cacache's index is append-only) so that `time` is the last use and
 * prune can go least-recently used first. At most once per interval: a node warmed every minute
 * would otherwise grow each bucket by a line a minute; `cache verify` compacts buckets anyway.
 */
export const TOUCH_INTERVAL_MS = 60 * 60 * 1000;

export function shouldTouch(lastUse: number, now: number): boolean {
  return now - lastUse >= TOUCH_INTERVAL_MS;
}

/** What a lock file holds: who took it, when, and when it last said it was alive. */
export interface LockInfo {
  pid: number;
  host: string;
  /** Refreshed while the download runs. */
  time: number;
}

/** A holder that has not refreshed its lock for this long is presumed gone (killed, frozen, other host). */
export const LOCK_STALE_MS = 30_000;

/**
 * A lock is stale when its holder cannot be alive: its pid is gone on this host, or it stopped
 * refreshing the lock (covers other hosts sharing the folder, and pids reused after a crash).
 * An unreadable lock is stale only once old: it may be a lock being written right now.
 */
export function isLockStale(
  info: LockInfo | undefined,
  mtimeMs: number,
  now: number,
  here: { host: string; alive(pid: number): boolean },
): boolean {
  if (!info) return now - mtimeMs > LOCK_STALE_MS;
  if (info.host === here.host && !here.alive(info.pid)) return true;
  return now - Math.max(info.time, mtimeMs) > LOCK_STALE_MS;
}

/** Partial downloads untouched for this long are removed by `cache prune`. */
export const PARTIAL_MAX_AGE_MS = 7 * 24 * 60 * 60 * 1000;
