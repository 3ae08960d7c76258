import type { BigIntStats } from 'node:fs';
import { lstat, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FragfetchError } from '../errors.js';
import type { Fragment } from '../manifest/fragment.js';
import { STATE_DIR } from './layout.js';
import { code } from './paths.js';

/**
 * `<dir>/.fragfetch/state.json`: what mirror wrote or verified, per file. It serves two purposes:
 *
 *   - the fast path: a file whose size, mtime and inode are those recorded is trusted to still hold
 *     the fragments recorded for it, so an unchanged tree is not re-hashed on every run (like make
 *     and rclone's default; `--checksum` re-hashes anyway). An edit that keeps size and mtime goes
 *     unnoticed without `--checksum`;
 *   - fragments without integrity: the sha256 of the bytes written and the server's validators, so
 *     a later run can tell the local bytes are those it wrote without asking the server.
 *
 * Losing it costs time (hashing) or, for fragments without integrity and an empty cache, a download;
 * never correctness. It is written to a temporary name and renamed.
 */

export interface FragmentRecord {
  size: number;
  /** The SRI integrity the bytes were verified against, when the manifest declares one. */
  integrity?: string;
  /** base64 sha256 of the bytes, when known. */
  sha256?: string;
  etag?: string;
  lastModified?: string;
}

export interface FileRecord {
  size: number;
  mtimeNs: string;
  ino: string;
  /** By `slotOf(fragment)`. */
  fragments: Record<string, FragmentRecord>;
}

interface StateDocument {
  version: 1;
  files: Record<string, FileRecord>;
}

/** A fragment's place in its file: `whole`, or `<offset>+<size>` for a range. */
export function slotOf(fragment: Fragment): string {
  return fragment.offset === undefined ? 'whole' : `${fragment.offset}+${fragment.size ?? 0}`;
}

/** Whether `stats` are still those recorded: the condition of the fast path. */
export function unchangedSince(record: FileRecord | undefined, stats: BigIntStats): boolean {
  return (
    record !== undefined &&
    record.size === Number(stats.size) &&
    record.mtimeNs === String(stats.mtimeNs) &&
    record.ino === String(stats.ino)
  );
}

export function fileRecord(stats: BigIntStats, fragments: Record<string, FragmentRecord>): FileRecord {
  return { size: Number(stats.size), mtimeNs: String(stats.mtimeNs), ino: String(stats.ino), fragments };
}

export class MirrorState {
  readonly #root: string;
  readonly #files: Map<string, FileRecord>;
  #dirty = false;

  private constructor(root: string, files: Map<string, FileRecord>) {
    this.#root = root;
    this.#files = files;
  }

  /**
   * Reads the state of `root`; missing or unreadable state is empty. A `.fragfetch` that is not a
   * plain directory (a symlink, say) is refused rather than written through.
   */
  static async load(root: string): Promise<MirrorState> {
    const dir = join(root, STATE_DIR);
    try {
      const stats = await lstat(dir);
      if (!stats.isDirectory()) {
        throw new FragfetchError(
          'EPATH',
          `refusing to use ${dir}: it is ${stats.isSymbolicLink() ? 'a symbolic link' : 'not a directory'}`,
        );
      }
    } catch (error) {
      if (error instanceof FragfetchError) throw error;
      if (code(error) === 'ENOENT') return new MirrorState(root, new Map());
      throw error;
    }
    try {
      const document = JSON.parse(await readFile(join(dir, 'state.json'), 'utf8')) as StateDocument;
      if (document.version !== 1 || typeof document.files !== 'object' || document.files === null) {
        return new MirrorState(root, new Map());
      }
      return new MirrorState(root, new Map(Object.entries(document.files)));
    } catch {
      return new MirrorState(root, new Map());
    }
  }

  /** An empty state for a dry run of a directory that does not exist yet. */
  static empty(root: string): MirrorState {
    return new MirrorState(root, new Map());
  }

  get(path: string): FileRecord | undefined {
    return this.#files.get(path);
  }

  set(path: string, record: FileRecord): void {
    this.#files.set(path, record);
    this.#dirty = true;
  }

  /** The paths with a record. */
  paths(): string[] {
    return [...this.#files.keys()];
  }

  delete(path: string): void {
    if (this.#files.delete(path)) this.#dirty = true;
  }

  async save(): Promise<void> {
    if (!this.#dirty) return;
    const dir = join(this.#root, STATE_DIR);
    await mkdir(dir, { recursive: true });
    const stats = await lstat(dir);
    if (!stats.isDirectory()) throw new FragfetchError('EPATH', `refusing to use ${dir}: not a directory`);
    const file = join(dir, 'state.json');
    const temp = `${file}.tmp`; // fixed: a run killed mid-save leaves one name, replaced next time
    const document: StateDocument = { version: 1, files: Object.fromEntries(this.#files) };
    try {
      // Exclusive creation: a name planted in .fragfetch/ is never written through.
      await rm(temp, { force: true });
      await writeFile(temp, JSON.stringify(document), { flag: 'wx' });
      await rename(temp, file);
      this.#dirty = false;
    } finally {
      await rm(temp, { force: true });
    }
  }
}
