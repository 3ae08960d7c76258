import * as fs from 'node:fs';
import { link, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { bucketPath, contentPathOf, indexLine, tempPath } from '../../src/cache/cacache-format.js';
import { readBucket } from '../../src/cache/index-bucket.js';
import { ObjectStorer, type StoreFs, type StoreJob } from '../../src/cache/store-job.js';
import { randomBytesSeeded, sriOf, tempDir } from '../support/fixtures.js';

class Crash extends Error {}

/** What a kill -9 at that moment would leave: the file at the content address, and the index. */
interface Snapshot {
  content: Buffer | undefined;
  indexed: boolean;
}

/**
 * node:fs, until its `stopAt`-th call: then the process "dies" — a write gets half its bytes on
 * disk — and what is on disk at that moment is kept; every later call fails too, as a dead process
 * makes none (its clean-up never runs).
 */
function crashingFs(stopAt: number, job: StoreJob, key: string, onCrash: (snapshot: Snapshot) => void) {
  let calls = 0;
  const wrap =
    <K extends keyof StoreFs>(name: K) =>
    (...args: Parameters<StoreFs[K]>) => {
      if (++calls > stopAt) throw new Crash('already dead');
      if (calls === stopAt) {
        if (name === 'writeFileSync') {
          const [path, data] = args as Parameters<StoreFs['writeFileSync']>;
          fs.writeFileSync(path, (data as Uint8Array).subarray(0, (data as Uint8Array).length >> 1));
        }
        const text = fs.existsSync(job.bucket) ? fs.readFileSync(job.bucket, 'utf8') : '';
        onCrash({
          content: fs.existsSync(job.destination) ? fs.readFileSync(job.destination) : undefined,
          indexed: text.includes(key),
        });
        throw new Crash(`killed at call ${stopAt} (${name})`);
      }
      return (fs[name] as (...a: unknown[]) => unknown)(...args);
    };
  const names = [
    'appendFileSync',
    'linkSync',
    'mkdirSync',
    'renameSync',
    'statSync',
    'unlinkSync',
    'writeFileSync',
  ] as const;
  return Object.fromEntries(names.map((name) => [name, wrap(name)])) as unknown as StoreFs;
}

let dir: string;
beforeEach(async () => {
  dir = await tempDir('store-job-');
});

function jobFor(data: Buffer, key: string, options: { file?: string } = {}): StoreJob {
  const integrity = sriOf(data);
  return {
    ...(options.file ? { temp: options.file } : { bytes: data, temp: tempPath(dir) }),
    destination: contentPathOf(dir, integrity)!,
    size: data.length,
    bucket: bucketPath(dir, key),
    line: indexLine({ key, integrity, time: 1, size: data.length }),
  };
}

async function tempLeftovers(): Promise<string[]> {
  return readdir(join(dir, 'tmp')).catch(() => []);
}

describe('ObjectStorer: temporary file, then a move without overwrite, then the index line', () => {
  it('a crash at any step leaves no short file at the content address and no index line before the content', async () => {
    const data = randomBytesSeeded(64 * 1024, 'crash');
    const snapshots: Snapshot[] = [];
    for (let stopAt = 1; snapshots.length === stopAt - 1; stopAt++) {
      const job = jobFor(data, `k${stopAt}`);
      // A fresh cache each time, so that every step is reached from nothing.
      fs.rmSync(dir, { recursive: true, force: true });
      const storer = new ObjectStorer(crashingFs(stopAt, job, `k${stopAt}`, (s) => snapshots.push(s)));
      try {
        storer.store(job);
      } catch (error) {
        if (!(error instanceof Crash)) throw error;
      }
    }
    // Every call of a store was a moment of a crash: mkdir ×3, write, link, unlink, append.
    expect(snapshots.length).toBe(7);
    for (const snapshot of snapshots) {
      if (snapshot.content !== undefined) expect(snapshot.content.equals(data)).toBe(true);
      if (snapshot.indexed) expect(snapshot.content).toBeDefined();
    }
    // The crashes after the link found the content whole, and none found it indexed.
    expect(snapshots.map((s) => s.content !== undefined)).toEqual([
      false,
      false,
      false,
      false,
      true,
      true,
      true,
    ]);
  });

  it('a short temporary file left by a killed run is never moved into place; the next store is whole', async () => {
    const data = randomBytesSeeded(64 * 1024, 'leftover-temp');
    const killed = jobFor(data, 'k');
    fs.mkdirSync(join(dir, 'tmp'), { recursive: true });
    fs.writeFileSync(killed.temp, data.subarray(0, 1000));
    const job = jobFor(data, 'k');
    new ObjectStorer().store(job);
    expect((await readFile(job.destination)).equals(data)).toBe(true);
    expect((await readBucket(job.bucket, 'k')).entry?.size).toBe(data.length);
    expect(await tempLeftovers()).toEqual([killed.temp.slice(join(dir, 'tmp').length + 1)]);
  });

  it('never overwrites whole content: its inode and a mirror link to it stay; the new copy is removed', async () => {
    const data = randomBytesSeeded(10_000, 'existing');
    const first = jobFor(data, 'a');
    new ObjectStorer().store(first);
    const before = await stat(first.destination);
    const mirrored = join(dir, 'mirror-link');
    await link(first.destination, mirrored);

    // Another process (a storer of its own) stores the same bytes, once from memory, once a file.
    new ObjectStorer().store(jobFor(data, 'b'));
    const file = join(dir, 'finished-partial');
    await writeFile(file, data);
    new ObjectStorer().store(jobFor(data, 'c', { file }));

    const after = await stat(first.destination);
    expect(after.ino).toBe(before.ino);
    expect(after.nlink).toBe(2);
    expect(fs.existsSync(file)).toBe(false);
    expect(await tempLeftovers()).toEqual([]);
    for (const key of ['a', 'b', 'c']) {
      expect((await readBucket(bucketPath(dir, key), key)).entry?.integrity).toBe(sriOf(data));
    }
  });

  it('replaces a file of the wrong size at the address (damage from outside) by a rename', async () => {
    const data = randomBytesSeeded(10_000, 'damaged');
    const job = jobFor(data, 'k');
    fs.mkdirSync(join(job.destination, '..'), { recursive: true });
    fs.writeFileSync(job.destination, data.subarray(0, 10));
    new ObjectStorer().store(job);
    expect((await readFile(job.destination)).equals(data)).toBe(true);
    expect(await tempLeftovers()).toEqual([]);
  });

  it('on a file system without hard links, moves by a rename, still keeping whole content', async () => {
    const noLinks: StoreFs = {
      ...fs,
      linkSync: () => {
        throw Object.assign(new Error('operation not permitted'), { code: 'EPERM' });
      },
    };
    const data = randomBytesSeeded(10_000, 'no-links');
    const first = jobFor(data, 'a');
    new ObjectStorer(noLinks).store(first);
    expect((await readFile(first.destination)).equals(data)).toBe(true);
    const inode = (await stat(first.destination)).ino;
    new ObjectStorer(noLinks).store(jobFor(data, 'b'));
    expect((await stat(first.destination)).ino).toBe(inode);
    expect(await tempLeftovers()).toEqual([]);
  });

  it('makes its folders again when they were removed under it (cache clear)', async () => {
    const storer = new ObjectStorer();
    storer.store(jobFor(randomBytesSeeded(100, 'one'), 'one'));
    fs.rmSync(dir, { recursive: true, force: true });
    const job = jobFor(randomBytesSeeded(100, 'two'), 'two');
    storer.store(job);
    expect((await readBucket(job.bucket, 'two')).entry?.size).toBe(100);
  });

  it('keeps a partial file whose move fails, and removes bytes it wrote itself', async () => {
    const data = randomBytesSeeded(1000, 'blocked');
    const file = join(dir, 'finished-partial');
    await writeFile(file, data);
    const job = jobFor(data, 'k', { file });
    // A file where the content's folder must go.
    fs.mkdirSync(join(job.destination, '..', '..', '..'), { recursive: true });
    fs.writeFileSync(join(job.destination, '..', '..'), 'in the way');
    expect(() => new ObjectStorer().store(job)).toThrow();
    expect(fs.existsSync(file)).toBe(true);
    expect(() => new ObjectStorer().store(jobFor(data, 'k'))).toThrow();
    expect(await tempLeftovers()).toEqual([]);
  });
});

describe('ObjectStorer.check: the bytes hashed, checked and addressed where they are stored', () => {
  const entry = (key: string, size: number) => ({ key, time: 1, size, metadata: { id: key } });

  it('stores bytes that match the declared digest at the sha256 address, indexed with that integrity', async () => {
    const data = randomBytesSeeded(64 * 1024, 'checked');
    const sha512 = sriOf(data, 'sha512').slice('sha512-'.length);
    const outcome = new ObjectStorer().check({
      bytes: data,
      cacheDir: dir,
      algorithms: ['sha256', 'sha512'],
      expected: { algorithm: 'sha512', digest: sha512 },
      entry: entry('k', data.length),
    });
    expect(outcome).toEqual({ digests: [sriOf(data).slice('sha256-'.length), sha512], stored: true });
    expect((await readFile(contentPathOf(dir, sriOf(data))!)).equals(data)).toBe(true);
    const indexed = (await readBucket(bucketPath(dir, 'k'), 'k')).entry;
    expect(indexed).toMatchObject({ integrity: sriOf(data), size: data.length, metadata: { id: 'k' } });
    expect(await tempLeftovers()).toEqual([]);
  });

  it('stores bytes without a declared digest under their own', async () => {
    const data = randomBytesSeeded(1000, 'undeclared');
    const outcome = new ObjectStorer().check({
      bytes: data,
      cacheDir: dir,
      algorithms: ['sha256'],
      entry: entry('k', data.length),
    });
    expect(outcome.stored).toBe(true);
    expect((await readBucket(bucketPath(dir, 'k'), 'k')).entry?.integrity).toBe(sriOf(data));
  });

  it('writes nothing for bytes that do not match, and returns their digests', async () => {
    const data = randomBytesSeeded(1000, 'wrong');
    const declared = sriOf(randomBytesSeeded(1000, 'right')).slice('sha256-'.length);
    const outcome = new ObjectStorer().check({
      bytes: data,
      cacheDir: dir,
      algorithms: ['sha256'],
      expected: { algorithm: 'sha256', digest: declared },
      entry: entry('k', data.length),
    });
    expect(outcome).toEqual({ digests: [sriOf(data).slice('sha256-'.length)], stored: false });
    expect(await readdir(dir)).toEqual([]);
  });
});
