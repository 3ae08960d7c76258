/**
 * Frees the memory of what a run wrote, once it has been checked, without deleting a file: every
 * regular file under a folder is truncated to zero bytes, which drops its pages from the page cache
 * and its blocks, while its inode stays (deleting inodes slows creating new ones for minutes on
 * these VMs' ext4: settle.ts).
 *
 * Why at all: on this VM (a Firecracker guest) memory the guest has not used lately is slow to
 * touch — writing 1 GiB into the page cache took 3.3–6.7 s (2.2–3.4 s of system time, 68 % of it
 * in `copy_folio_from_iter_atomic`) where memory just freed took 0.3–0.9 s. Kept in the page cache,
 * each run's output made the next run write into such memory: the harness then billed every tool
 * ~3 s per GiB that no one running it by hand sees (they delete or overwrite the last output), and
 * curl's bulk took 3.98 s instead of ~1 s (bench/README.md).
 */
import { readdir, truncate } from 'node:fs/promises';
import path from 'node:path';

/** Truncates every regular file under `dir` (recursively) to zero bytes; returns how many. */
export async function releaseFiles(dir: string): Promise<number> {
  let count = 0;
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  for (const entry of entries) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) count += await releaseFiles(full);
    else if (entry.isFile()) {
      await truncate(full, 0);
      count++;
    }
  }
  return count;
}
