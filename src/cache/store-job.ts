import { hash } from 'node:crypto';
import * as nodeFs from 'node:fs';
import { dirname } from 'node:path';
import { bucketPath, contentAddress, type IndexEntry, indexLine, tempPath } from './cacache-format.js';

/**
 * One object stored the way cacache stores content (its `lib/content/write.js`): the bytes are
 * written whole under a temporary name, then moved to their content address only if nothing is
 * there yet, and the index line is appended only after the content has landed. So a crash at any
 * moment leaves at most a temporary file, never a short file at a content address, and no index line
 * names content that is not whole.
 *
 * Synchronous: it runs on the store worker (store-worker.ts), one job after another, while the main
 * thread reads sockets; on the main thread only when no worker can start.
 */
export interface StoreJob {
  /** The verified bytes, written to `temp` first; absent when `temp` already holds them. */
  bytes?: Uint8Array;
  /**
   * Where the content is before its move, on the content's file system: a fresh name under
   * `<cache>/tmp/` for bytes, or the finished partial file of a large download.
   */
  temp: string;
  destination: string;
  size: number;
  /** The index bucket, and the line appended to it (cacache-format.ts). */
  bucket: string;
  line: string;
}

/**
 * A small object's bytes whose digests are not known yet: the storer hashes them, checks them
 * against the manifest's digest, and only then addresses and stores them. On the store worker, so
 * that neither the hashes nor the index line cost the main thread, which reads the sockets.
 */
export interface CheckJob {
  bytes: Uint8Array;
  /** The cache folder: the temporary name, the content address and the bucket are made under it. */
  cacheDir: string;
  /** sha256 first (the content address and the index's integrity), then the manifest's, if another. */
  algorithms: readonly string[];
  /** The manifest's digest (base64) and its algorithm, one of `algorithms`; none takes any bytes. */
  expected?: { algorithm: string; digest: string } | undefined;
  /** The index entry, but for its integrity: the bytes' sha256. */
  entry: Omit<IndexEntry, 'integrity'>;
}

/** The digests of a CheckJob's bytes (base64, in its algorithms' order), and whether they were stored. */
export interface CheckOutcome {
  digests: string[];
  stored: boolean;
}

/** The file-system calls a store makes: node:fs, or a test's that stops after any of them. */
export type StoreFs = Pick<
  typeof nodeFs,
  'appendFileSync' | 'linkSync' | 'mkdirSync' | 'renameSync' | 'statSync' | 'unlinkSync' | 'writeFileSync'
>;

/** Codes of a file system without hard links (some network and FAT file systems): see `moveInto`. */
const NO_HARD_LINKS = new Set(['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS']);

function codeOf(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException | undefined)?.code;
}

export class ObjectStorer {
  readonly #fs: StoreFs;
  /** Folders made already: at most 65,536 content folders, each made once per process. */
  readonly #folders = new Set<string>();

  constructor(fs: StoreFs = nodeFs) {
    this.#fs = fs;
  }

  /** Hashes a CheckJob's bytes and stores them if they match; a mismatch writes nothing. */
  check(job: CheckJob): CheckOutcome {
    const digests = job.algorithms.map((algorithm) => hash(algorithm, job.bytes, 'base64'));
    const { expected } = job;
    if (expected && digests[job.algorithms.indexOf(expected.algorithm)] !== expected.digest) {
      return { digests, stored: false };
    }
    const sha256 = digests[0]!;
    this.store({
      bytes: job.bytes,
      temp: tempPath(job.cacheDir),
      destination: contentAddress(job.cacheDir, 'sha256', sha256),
      size: job.bytes.byteLength,
      bucket: bucketPath(job.cacheDir, job.entry.key),
      line: indexLine({ ...job.entry, integrity: `sha256-${sha256}` }),
    });
    return { digests, stored: true };
  }

  store(job: StoreJob): void {
    const fs = this.#fs;
    if (job.bytes) {
      try {
        this.#inFolder(dirname(job.temp), () => fs.writeFileSync(job.temp, job.bytes!, { flag: 'wx' }));
      } catch (error) {
        this.#removeTemp(job.temp);
        throw error;
      }
    }
    let moved: boolean;
    try {
      moved = this.#inFolder(dirname(job.destination), () => this.#moveInto(job));
    } catch (error) {
      // A partial file stays for the next attempt; bytes written here are not worth keeping.
      if (job.bytes) this.#removeTemp(job.temp);
      throw error;
    }
    if (!moved) this.#removeTemp(job.temp);
    this.#inFolder(dirname(job.bucket), () => fs.appendFileSync(job.bucket, job.line));
  }

  /**
   * Moves the temporary file to its content address unless content is there already, as cacache's
   * moveFile(…, { overwrite: false }) does; but by a hard link, which fails atomically when the
   * address exists, where cacache's check-then-rename lets two writers race. Content already there
   * is the same bytes (its name is their hash) and stays, with its inode and any mirror's link to it.
   * Only when its size is wrong is it not the content its name says (damage from outside: a crash
   * cannot leave it): then it is replaced, atomically, by a rename of the verified bytes.
   *
   * Returns whether the temporary name was consumed by a rename (else the caller removes it).
   */
  #moveInto(job: StoreJob): boolean {
    try {
      this.#fs.linkSync(job.temp, job.destination);
      return false;
    } catch (error) {
      const code = codeOf(error);
      // Without hard links, cacache's own way: a check, then a rename.
      if (code === 'EEXIST' || (code !== undefined && NO_HARD_LINKS.has(code)))
        return this.#keepOrReplace(job);
      throw error;
    }
  }

  #keepOrReplace(job: StoreJob): boolean {
    if (this.#sizeAt(job.destination) === job.size) return false;
    this.#fs.renameSync(job.temp, job.destination);
    return true;
  }

  #sizeAt(path: string): number | undefined {
    return this.#fs.statSync(path, { throwIfNoEntry: false })?.size;
  }

  /** Runs a step that needs `folder`; a folder removed under us (`cache clear`) is made again. */
  #inFolder<T>(folder: string, step: () => T): T {
    if (!this.#folders.has(folder)) {
      this.#fs.mkdirSync(folder, { recursive: true });
      this.#folders.add(folder);
    }
    try {
      return step();
    } catch (error) {
      if (codeOf(error) !== 'ENOENT') throw error;
      this.#fs.mkdirSync(folder, { recursive: true });
      return step();
    }
  }

  #removeTemp(path: string): void {
    try {
      this.#fs.unlinkSync(path);
    } catch {
      // Not there (never written, or already moved): nothing to remove.
    }
  }
}
