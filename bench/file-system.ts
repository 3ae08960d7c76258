/**
 * What file system the runs write to, for the report: the same tools on the same files differ by
 * 2–8 × between tmpfs, an ext4 without a journal (these VMs' root) and one with a journal (aria2c's
 * three fsyncs per download are free on the first two and most of its run on the third; see
 * bench/README.md). `findmnt` names the mount; ext4 says in sysfs whether it has a journal.
 */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface MountFacts {
  /** findmnt's FSTYPE, e.g. ext4, tmpfs, xfs. */
  type: string;
  /** findmnt's SOURCE, e.g. /dev/vda, tmpfs. */
  source: string;
  /** For ext4: `/sys/fs/ext4/<device>/journal_task`, `<none>` without a journal. */
  journalTask?: string;
}

/** One line for the report: `ext4 (/dev/vda, no journal)`, `tmpfs`. */
export function fileSystemLabel(facts: MountFacts): string {
  const details = facts.source && facts.source !== facts.type ? [facts.source] : [];
  if (facts.type === 'ext4' && facts.journalTask !== undefined)
    details.push(facts.journalTask.trim() === '<none>' ? 'no journal' : 'journal');
  return details.length > 0 ? `${facts.type} (${details.join(', ')})` : facts.type;
}

/** The file system `dir` is on, as fileSystemLabel says it; undefined where findmnt cannot tell. */
export async function describeFileSystem(dir: string): Promise<string | undefined> {
  try {
    const { stdout } = await run('findmnt', ['-n', '-o', 'FSTYPE,SOURCE', '--target', dir]);
    const [type, source = ''] = stdout.trim().split(/\s+/);
    if (!type) return undefined;
    const facts: MountFacts = { type, source };
    if (type === 'ext4') {
      const journalTask = await readFile(`/sys/fs/ext4/${path.basename(source)}/journal_task`, 'utf8').catch(
        () => undefined,
      );
      if (journalTask !== undefined) facts.journalTask = journalTask;
    }
    return fileSystemLabel(facts);
  } catch {
    return undefined;
  }
}
