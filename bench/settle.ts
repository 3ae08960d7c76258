import { closeSync, mkdirSync, openSync } from 'node:fs';
import path from 'node:path';

/**
 * Waits until creating files is as fast as it should be. On these VMs' ext4 (no journal) a freed
 * inode is skipped, one by one, while new ones are allocated for 60 s after its deletion — 360 s
 * while its inode-table block is dirty, which allocating neighbours keeps it (kernel
 * fs/ext4/ialloc.c, `recently_deleted`; `perf`: recently_deleted, find_inode_bit). After `npm test`
 * or a bench run had deleted tens of thousands of files, 2000 empty files took 0.3–2.3 s to create
 * instead of 0.08 s, and a tool creating 4 inodes per object (fragfetch's cacache: content file and
 * index bucket, each in a folder of its own) paid four times what one creating 1 pays (curl).
 *
 * The probe's files are never deleted here (that would start the clock again): they go with the
 * bench's work folder at the end.
 */
export interface SettleResult {
  /** Milliseconds the last probe took to create `PROBE_FILES` empty files. */
  probeMs: number;
  waitedSeconds: number;
  settled: boolean;
}

export const PROBE_FILES = 1000;
/** About 4 × what a settled file system takes here (1000 files in ~40 ms). */
export const SETTLED_MS = 150;
const WAIT_STEP_MS = 20_000;
const MAX_WAIT_MS = 400_000;

export function probeFileCreation(dir: string): number {
  mkdirSync(dir, { recursive: true });
  const began = performance.now();
  for (let i = 0; i < PROBE_FILES; i++) closeSync(openSync(path.join(dir, `p${i}`), 'wx'));
  return performance.now() - began;
}

export async function settleFileSystem(
  workDir: string,
  log: (line: string) => void,
  stopped: () => boolean,
): Promise<SettleResult> {
  const started = Date.now();
  for (let attempt = 0; ; attempt++) {
    const probeMs = probeFileCreation(path.join(workDir, 'settle', `${started}-${attempt}`));
    const waitedSeconds = Math.round((Date.now() - started) / 1000);
    if (probeMs <= SETTLED_MS) return { probeMs, waitedSeconds, settled: true };
    if (Date.now() - started >= MAX_WAIT_MS || stopped()) return { probeMs, waitedSeconds, settled: false };
    log(
      `file system still slow to create files (${PROBE_FILES} in ${probeMs.toFixed(0)} ms, recently deleted inodes): waiting`,
    );
    await new Promise((resolve) => setTimeout(resolve, WAIT_STEP_MS));
  }
}
