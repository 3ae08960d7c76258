import { readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { delay } from '../net/delay.js';
import { isLockStale, LOCK_STALE_MS, type LockInfo } from './policy.js';

/** How often a waiting process looks again, and how often a holder says it is still alive. */
const POLL_MS = 100;
const REFRESH_MS = LOCK_STALE_MS / 3;

export interface HeldLock {
  release(): Promise<void>;
}

/**
 * An exclusive lock file (`open(…, 'wx')` is atomic on local file systems): two processes warming one
 * cache never write the same partial download. The holder refreshes the file's time; a lock whose
 * holder died or went silent is taken over, so a killed run never blocks the next one.
 */
export async function tryLock(path: string, now = Date.now): Promise<HeldLock | undefined> {
  const info: LockInfo = { pid: process.pid, host: hostname(), time: now() };
  try {
    await writeFile(path, JSON.stringify(info), { flag: 'wx' });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    if (!(await staleLock(path, now()))) return undefined;
    // Two waiters may both see it stale: only one of them wins the `wx` that follows.
    await rm(path, { force: true });
    return tryLock(path, now);
  }
  const timer = setInterval(() => {
    const at = new Date();
    void utimes(path, at, at).catch(() => {});
  }, REFRESH_MS);
  timer.unref();
  return {
    release: async () => {
      clearInterval(timer);
      await rm(path, { force: true });
    },
  };
}

/**
 * Waits until the lock is free or `check` reports that waiting is over (say, the other process put
 * the fragment in the cache); resolves with the lock when we got it, undefined when `check` said so.
 */
export async function waitForLock(
  path: string,
  check: () => Promise<boolean>,
  signal: AbortSignal,
): Promise<HeldLock | undefined> {
  for (;;) {
    const lock = await tryLock(path);
    if (lock) return lock;
    if (await check()) return undefined;
    await delay(POLL_MS, signal);
  }
}

async function staleLock(path: string, now: number): Promise<boolean> {
  let mtimeMs: number;
  try {
    mtimeMs = (await stat(path)).mtimeMs;
  } catch {
    return true; // released between our open and our stat
  }
  let info: LockInfo | undefined;
  try {
    info = JSON.parse(await readFile(path, 'utf8')) as LockInfo;
  } catch {
    info = undefined;
  }
  return isLockStale(info, mtimeMs, now, { host: hostname(), alive: pidAlive });
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists, it is just not ours.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
