import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Span } from '../fetch/coverage.js';

/** What a partial download remembers between runs, beside its data file. */
export interface PartialState {
  version: 1;
  /** The cache key of the fragment: a state for another fragment is never reused. */
  key: string;
  /** URL the validators came from. */
  url?: string;
  /** ETag of the object as sent; when strong, the `If-Range` of a resumed request. */
  etag?: string;
  lastModified?: string;
  /** Size of the fragment's window, once known. */
  size?: number;
  /** Complete length of the remote object, once known. */
  objectSize?: number;
  /** False once the server was seen to ignore Range. */
  ranges?: boolean;
  /** Byte spans of the data file that hold received bytes. */
  spans: Span[];
}

const EPHEMERAL = new Map<string, PartialFiles>();

/** `<cache>/partial/<hash of key>/{data,state.json}`: outside cacache's own folders, cleaned by prune. */
export class PartialFiles {
  /** The cache folder it lives in, for messages: a full disk names it. */
  readonly cacheDir: string;
  readonly dir: string;
  readonly dataPath: string;
  readonly statePath: string;
  /** Bytes in memory, no saved state: see `PartialFiles.ephemeral`. */
  readonly ephemeral: boolean;

  constructor(cacheDir: string, key: string, ephemeral = false) {
    this.ephemeral = ephemeral;
    this.cacheDir = cacheDir;
    if (ephemeral) {
      this.dir = join(cacheDir, 'partial');
      this.dataPath = '';
    } else {
      const name = createHash('sha256').update(key).digest('hex').slice(0, 32);
      this.dir = join(cacheDir, 'partial', name);
      this.dataPath = join(this.dir, 'data');
    }
    this.statePath = join(this.dir, 'state.json');
  }

  /**
   * For small objects, where resuming saves little and the bookkeeping (a folder, a state file, a
   * lock, a data file) costs more file-system calls than the transfer: nothing on disk. The bytes are
   * held in memory (receive/data-file.ts `MemoryFile`), never shared, never resumed. Two processes fetching
   * the same small object each store the same verified bytes in the same place, atomically.
   */
  static ephemeral(cacheDir: string): PartialFiles {
    // Nothing in it varies by object: one per cache, not one per small object.
    let files = EPHEMERAL.get(cacheDir);
    if (!files) {
      files = new PartialFiles(cacheDir, '', true);
      EPHEMERAL.set(cacheDir, files);
    }
    return files;
  }

  async prepare(): Promise<void> {
    if (this.ephemeral) return;
    await mkdir(this.dir, { recursive: true });
  }

  /** The saved state, or undefined when there is none or it is unreadable (then we start over). */
  async load(key: string): Promise<PartialState | undefined> {
    if (this.ephemeral) return undefined;
    try {
      const state = JSON.parse(await readFile(this.statePath, 'utf8')) as PartialState;
      if (state.version !== 1 || state.key !== key || !Array.isArray(state.spans)) return undefined;
      return state;
    } catch {
      return undefined;
    }
  }

  /**
   * Written to a temporary name and renamed, so a kill mid-write leaves the previous state intact.
   * One name, not one per process: the partial's lock (lock.ts) lets one process at a time write
   * here, and the next save overwrites what a killed one left.
   */
  async save(state: PartialState): Promise<void> {
    if (this.ephemeral) return;
    const temp = `${this.statePath}.tmp`;
    await writeFile(temp, JSON.stringify(state));
    await rename(temp, this.statePath);
  }

  async remove(): Promise<void> {
    if (!this.ephemeral) await rm(this.dir, { recursive: true, force: true });
  }
}
