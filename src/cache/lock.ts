import { randomBytes } from 'node:crypto';
import {
  mkdir,
  readdir,
  readFile,
  rename,
  rm,
  rmdir,
  stat,
  unlink,
  utimes,
  writeFile,
} from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { FragfetchError } from '../errors.js';
import { delay } from '../net/delay.js';
import { isLockStale, LOCK_STALE_MS, type LockInfo } from './policy.js';

/** How often a waiting process looks again. */
const POLL_MS = 100;

/** Attempts of one `tryLock` when the lock changes under it: a waiter polls again anyway. */
const ROUNDS = 4;

export interface LockOptions {
  /** The clock tokens are stamped and judged with; tests move it to make a holder look silent. */
  now?: () => number;
  /** How often a holder says it is alive and checks that it still holds the lock. */
  refreshMs?: number; // LOCK_STALE_MS / 3
}

export interface HeldLock {
  /** Aborted with ELOCKLOST once a refresh finds the lock taken over: stop writing at once. */
  readonly signal: AbortSignal;
  /** Throws ELOCKLOST unless the lock is still ours (asked before the result is published). */
  assertHeld(): Promise<void>;
  release(): Promise<void>;
}

/*
 * A lock is a folder holding the token file of the acquisition that holds it:
 *
 *   partial/<hash>.lock/<pid>.<time>.<random>.<host>       (empty file; mtime refreshed)
 *
 * The name says who took it and when, so a token is never read half-written, and it stays true when
 * the file is renamed. Every step that decides who holds the lock is one rename:
 *
 *   free  (no folder, or an empty one): rename a prepared folder, token inside, into place. Onto a
 *         missing path that is atomic, onto a non-empty folder it fails: one waiter wins.
 *   stale (holder dead on this host, or silent past LOCK_STALE_MS): rename the holder's token file,
 *         the exact name seen, to one's own. One waiter can rename that file; the others get ENOENT.
 *         The folder is never empty on the way, so no one takes it as free meanwhile.
 *   lost  a holder whose token is gone at a refresh was taken over (it looked dead): it stops.
 *
 * A plain file at the lock path is the lock of an older fragfetch: removed once stale, never renamed
 * (that could move a folder lock made meanwhile).
 */

/** This host, and how to tell whether one of its processes is alive. */
type Here = Parameters<typeof isLockStale>[3];

type Holder =
  | { kind: 'free'; emptyFolder: boolean }
  | { kind: 'held' }
  | { kind: 'stale'; token: string }
  | { kind: 'legacy-stale' };

/**
 * Takes the lock at `path` if it is free or its holder is gone; undefined while someone holds it.
 * The parent folder must exist.
 */
export async function tryLock(path: string, options: LockOptions = {}): Promise<HeldLock | undefined> {
  const now = options.now ?? Date.now;
  const here = { host: hostname(), alive: pidAlive };
  for (let round = 0; round < ROUNDS; round++) {
    const token = tokenName({ pid: process.pid, host: here.host, time: now() });
    const holder = await inspect(path, now(), here);
    if (holder.kind === 'held') return undefined;
    if (holder.kind === 'legacy-stale') {
      // Fails on a folder: only an old-style file goes.
      await unlink(path).catch(() => {});
      continue;
    }
    if (holder.kind === 'stale') {
      if (await renamed(join(path, holder.token), join(path, token))) return hold(path, token, options);
      continue;
    }
    // An empty folder is a lock being released: rmdir fails if a new holder moved in meanwhile.
    if (holder.emptyFolder) await rmdir(path).catch(() => {});
    if (await claimFree(path, token)) return hold(path, token, options);
  }
  return undefined;
}

/**
 * Waits until the lock is free or `check` reports that waiting is over (say, the other process put
 * the fragment in the cache); resolves with the lock when we got it, undefined when `check` said so.
 */
export async function waitForLock(
  path: string,
  check: () => Promise<boolean>,
  signal: AbortSignal,
  options: LockOptions = {},
): Promise<HeldLock | undefined> {
  for (;;) {
    const lock = await tryLock(path, options);
    if (lock) return lock;
    if (await check()) return undefined;
    await delay(POLL_MS, signal);
  }
}

export function tokenName(info: LockInfo, random = randomBytes(6).toString('hex')): string {
  return `${info.pid}.${info.time}.${random}.${Buffer.from(info.host).toString('base64url')}`;
}

/** The holder a token names, or undefined for a name no fragfetch wrote. */
export function parseToken(name: string): LockInfo | undefined {
  const [pid, time, random, host, ...rest] = name.split('.');
  if (
    rest.length > 0 ||
    !random ||
    host === undefined ||
    !/^\d+$/.test(pid ?? '') ||
    !/^\d+$/.test(time ?? '')
  ) {
    return undefined;
  }
  return { pid: Number(pid), time: Number(time), host: Buffer.from(host, 'base64url').toString() };
}

async function inspect(path: string, now: number, here: Here): Promise<Holder> {
  let names: string[];
  try {
    names = await readdir(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return { kind: 'free', emptyFolder: false };
    if (code !== 'ENOTDIR') throw error;
    return (await legacyStale(path, now, here)) ? { kind: 'legacy-stale' } : { kind: 'held' };
  }
  if (names.length === 0) return { kind: 'free', emptyFolder: true };
  let stale: string | undefined;
  for (const name of names.sort()) {
    let mtimeMs: number;
    try {
      mtimeMs = (await stat(join(path, name))).mtimeMs;
    } catch {
      // Taken over or released while we looked: held by whoever did it, as far as we know.
      return { kind: 'held' };
    }
    if (!isLockStale(parseToken(name), mtimeMs, now, here)) return { kind: 'held' };
    stale ??= name;
  }
  return { kind: 'stale', token: stale! };
}

async function claimFree(path: string, token: string): Promise<boolean> {
  // Beside the lock, on the same file system; named `….lock` so that prune and `cache stats`
  // count a leftover one (a kill between mkdir and rename) as a lock, not as a partial download.
  const temp = `${path}.${token.split('.')[2]}.lock`;
  let moved = false;
  try {
    await mkdir(temp);
    await writeFile(join(temp, token), '');
    moved = await renamed(temp, path);
    return moved;
  } finally {
    if (!moved) await rm(temp, { recursive: true, force: true });
  }
}

/** Renames `from` to `to`; false when another process got there first (or `from` is gone). */
async function renamed(from: string, to: string): Promise<boolean> {
  try {
    await rename(from, to);
    return true;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? '';
    // ENOTEMPTY/EEXIST: a holder moved in; ENOENT: the token was taken; ENOTDIR: an old-style lock
    // file; EPERM: Windows, onto an existing folder.
    if (['ENOENT', 'ENOTEMPTY', 'EEXIST', 'ENOTDIR', 'EPERM'].includes(code)) return false;
    throw error;
  }
}

function hold(path: string, token: string, options: LockOptions): HeldLock {
  const file = join(path, token);
  const controller = new AbortController();
  const refresh = async () => {
    if (controller.signal.aborted) return;
    const at = new Date(options.now?.() ?? Date.now());
    try {
      await utimes(file, at, at);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'ENOTDIR') return; // a passing fault: the next refresh tells
      controller.abort(
        new FragfetchError('ELOCKLOST', `lock ${path} was taken over: this process looked gone`, {
          cause: error,
        }),
      );
    }
  };
  const timer = setInterval(() => void refresh(), options.refreshMs ?? LOCK_STALE_MS / 3);
  timer.unref();
  return {
    signal: controller.signal,
    assertHeld: async () => {
      await refresh();
      if (controller.signal.aborted) throw controller.signal.reason;
    },
    release: async () => {
      clearInterval(timer);
      if (controller.signal.aborted) return;
      try {
        await unlink(file);
      } catch {
        return; // taken over: the folder is someone else's now
      }
      // Fails if a new holder moved in since the unlink: then it stays theirs.
      await rmdir(path).catch(() => {});
    },
  };
}

async function legacyStale(path: string, now: number, here: Here) {
  let mtimeMs: number;
  try {
    mtimeMs = (await stat(path)).mtimeMs;
  } catch {
    return true; // removed between our readdir and our stat
  }
  let info: LockInfo | undefined;
  try {
    info = JSON.parse(await readFile(path, 'utf8')) as LockInfo;
  } catch {
    info = undefined;
  }
  return isLockStale(info, mtimeMs, now, here);
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
