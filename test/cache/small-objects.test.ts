import cacache from 'cacache';
import { mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MemoryFile } from '../../src/receive/data-file.js';
import { type HeldBuffer, SmallBuffers } from '../../src/receive/small-buffers.js';
import { CacheStore, cacheKey } from '../../src/cache/store.js';
import { parseManifest } from '../../src/manifest/parse.js';
import { randomBytesSeeded, sriOf, tempDir } from '../support/fixtures.js';

const sha256 = (data: Buffer) => sriOf(data).slice('sha256-'.length);

describe('MemoryFile', () => {
  it('takes writes at their offsets, reads them back, truncates, and grows past its buffer', async () => {
    const file = new MemoryFile(Buffer.alloc(8));
    await file.writev([Buffer.from('defg')], 3);
    await file.writev([Buffer.from('a'), Buffer.from('bc')], 0);
    expect(file.data.toString()).toBe('abcdefg');
    const out = Buffer.alloc(4);
    expect(await file.read(out, 0, 4, 5)).toEqual({ bytesRead: 2 });
    expect(out.subarray(0, 2).toString()).toBe('fg');
    await file.truncate(2);
    expect(file.data.toString()).toBe('ab');
    await file.writev([Buffer.from('cdefghijkl')], 2);
    expect(file.data.toString()).toBe('abcdefghijkl');
  });
});

describe('SmallBuffers', () => {
  const KiB = 1024;
  /** A turn of the event loop: whatever free memory would have let through has run by then. */
  const turn = () => new Promise((resolve) => setImmediate(resolve));

  it('hands out pieces of shared memory, each its size rounded up to a power of two, within its bytes', async () => {
    const pool = new SmallBuffers(32 * KiB, 16 * KiB);
    const first = await pool.acquire(5000, 0);
    expect(first.buffer.buffer).toBeInstanceOf(SharedArrayBuffer);
    expect(first.buffer.length).toBe(8 * KiB);
    expect((await pool.acquire(1, 0)).buffer.length).toBe(4 * KiB);
    const third = await pool.acquire(8 * KiB, 0);
    // Two slabs of 16 KiB: one cut in 8 KiB pieces, now both out, and one in 4 KiB pieces.
    expect(pool.heldBytes).toBe(32 * KiB);
    let fourth: HeldBuffer | undefined;
    void pool.acquire(8 * KiB, 0).then((held) => (fourth = held));
    await turn();
    expect(fourth).toBeUndefined();
    third.release();
    third.release(); // twice is once
    await turn();
    // The same memory again, not a new slab.
    expect(fourth!.buffer.buffer).toBe(third.buffer.buffer);
    expect(fourth!.buffer.byteOffset).toBe(third.buffer.byteOffset);
    // Released twice, the piece was still given back once: the next waits.
    let fifth: HeldBuffer | undefined;
    void pool.acquire(8 * KiB, 0).then((held) => (fifth = held));
    await turn();
    expect(fifth).toBeUndefined();
    expect(pool.heldBytes).toBe(32 * KiB);
  });

  it('serves waiters by rank', async () => {
    const pool = new SmallBuffers(16 * KiB, 16 * KiB);
    const first = await pool.acquire(16 * KiB, 0);
    const order: number[] = [];
    const late = pool.acquire(16 * KiB, 5).then((held) => {
      order.push(5);
      return held;
    });
    const urgent = pool.acquire(16 * KiB, 1).then((held) => {
      order.push(1);
      return held;
    });
    await turn();
    expect(order).toEqual([]);
    first.release();
    (await urgent).release();
    (await late).release();
    expect(order).toEqual([1, 5]);
  });

  it('gives a wholly free slab to another size, and lets no smaller object pass a larger one waiting first', async () => {
    const pool = new SmallBuffers(16 * KiB, 16 * KiB);
    const quarter = await pool.acquire(4 * KiB, 0);
    const order: string[] = [];
    const whole = pool.acquire(16 * KiB, 1).then((held) => {
      order.push('whole');
      return held;
    });
    // Three quarters of the slab are free, but the object of rank 1 waits for all of it.
    const small = pool.acquire(4 * KiB, 2).then((held) => {
      order.push('small');
      return held;
    });
    await turn();
    expect(order).toEqual([]);
    quarter.release();
    const held = await whole;
    expect(held.buffer.length).toBe(16 * KiB);
    expect(order).toEqual(['whole']);
    held.release();
    (await small).release();
    expect(order).toEqual(['whole', 'small']);
    expect(pool.heldBytes).toBe(16 * KiB);
  });

  it('rejects a waiter whose run is interrupted, and serves the next at once', async () => {
    const pool = new SmallBuffers(16 * KiB, 16 * KiB);
    await pool.acquire(8 * KiB, 0);
    const controller = new AbortController();
    const large = pool.acquire(16 * KiB, 1, controller.signal);
    let small: HeldBuffer | undefined;
    void pool.acquire(8 * KiB, 2).then((held) => (small = held));
    await turn();
    expect(small).toBeUndefined();
    controller.abort(new Error('interrupted'));
    await expect(large).rejects.toThrow('interrupted');
    await turn();
    expect(small?.buffer.length).toBe(8 * KiB);
    await expect(pool.acquire(1, 0, controller.signal)).rejects.toThrow('interrupted');
  });

  it('refuses an object larger than a slab', () => {
    const pool = new SmallBuffers(64 * KiB, 16 * KiB);
    expect(() => pool.acquire(16 * KiB + 1, 0)).toThrow(RangeError);
  });
});

describe('CacheStore.insertBytes', () => {
  it('stores content and an index entry that cacache reads and verifies as its own', async () => {
    const dir = await tempDir('small-store-');
    const data = randomBytesSeeded(64 * 1024, 'small');
    const manifest = parseManifest(
      {
        version: 1,
        baseUrls: ['http://cdn.test/'],
        fragments: [{ path: 'a.bin', size: data.length, integrity: sriOf(data) }],
      },
      'm.json',
    );
    const fragment = manifest.fragments[0]!;
    const store = new CacheStore(dir);
    const shared = Buffer.from(new SharedArrayBuffer(data.length));
    data.copy(shared);
    const hit = await store.insertBytes(fragment, shared, sha256(data), {
      id: fragment.id,
      url: 'http://cdn.test/a.bin',
    });
    expect(hit.integrity).toBe(sriOf(data));
    const got = await cacache.get(dir, cacheKey(fragment));
    expect(got.data.equals(data)).toBe(true);
    expect(got.metadata).toEqual({ id: fragment.id, url: 'http://cdn.test/a.bin' });
    expect((await store.lookup(fragment))?.size).toBe(data.length);
    const verified = await cacache.verify(dir);
    expect(verified.verifiedContent).toBe(1);
    expect(verified.badContentCount).toBe(0);
    await rm(dir, { recursive: true, force: true });
  });

  it('fails with ECACHE, leaving no temporary file, when the content folder cannot be made', async () => {
    const dir = await tempDir('small-store-');
    const data = randomBytesSeeded(1000, 'blocked');
    const digest = Buffer.from(sha256(data), 'base64').toString('hex');
    // A file where the content's folder must go.
    await mkdir(join(dir, 'content-v2', 'sha256'), { recursive: true });
    await writeFile(join(dir, 'content-v2', 'sha256', digest.slice(0, 2)), 'in the way');
    const manifest = parseManifest(
      { version: 1, baseUrls: ['http://cdn.test/'], fragments: [{ path: 'b.bin', size: data.length }] },
      'm.json',
    );
    const store = new CacheStore(dir);
    const error = await store
      .insertBytes(manifest.fragments[0]!, data, sha256(data), { id: 'b.bin', url: 'http://cdn.test/b.bin' })
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'ECACHE' });
    expect((error as Error).message).toMatch(/^cannot store b\.bin in the cache: /);
    const leftovers = await readdir(join(dir, 'tmp')).catch(() => []);
    expect(leftovers).toEqual([]);
    await rm(dir, { recursive: true, force: true });
  });

  it('stores a batch of one turn object by object: one failure fails only its own object', async () => {
    const dir = await tempDir('small-store-');
    const datas = [0, 1, 2, 3].map((i) => randomBytesSeeded(5000 + i, `batch-${i}`));
    const blocked = Buffer.from(sha256(datas[2]!), 'base64').toString('hex');
    await mkdir(join(dir, 'content-v2', 'sha256'), { recursive: true });
    await writeFile(join(dir, 'content-v2', 'sha256', blocked.slice(0, 2)), 'in the way');
    const manifest = parseManifest(
      {
        version: 1,
        baseUrls: ['http://cdn.test/'],
        fragments: datas.map((data, i) => ({ path: `${i}.bin`, size: data.length })),
      },
      'm.json',
    );
    const store = new CacheStore(dir);
    // Started in one turn of the event loop: they travel to the store worker as one message.
    const outcomes = await Promise.allSettled(
      manifest.fragments.map((fragment, i) =>
        store.insertBytes(fragment, datas[i]!, sha256(datas[i]!), {
          id: fragment.id,
          url: 'http://cdn.test/',
        }),
      ),
    );
    expect(outcomes.map((outcome) => outcome.status)).toEqual([
      'fulfilled',
      'fulfilled',
      'rejected',
      'fulfilled',
    ]);
    expect((outcomes[2] as PromiseRejectedResult).reason).toMatchObject({ code: 'ECACHE' });
    for (const i of [0, 1, 3]) {
      expect((await cacache.get(dir, cacheKey(manifest.fragments[i]!))).data.equals(datas[i]!)).toBe(true);
    }
    await rm(dir, { recursive: true, force: true });
  });

  it('replaces a short leftover of an interrupted write, and leaves whole content where it is', async () => {
    const dir = await tempDir('small-store-');
    const data = randomBytesSeeded(64 * 1024, 'leftover');
    const manifest = parseManifest(
      { version: 1, baseUrls: ['http://cdn.test/'], fragments: [{ path: 'c.bin', size: data.length }] },
      'm.json',
    );
    const fragment = manifest.fragments[0]!;
    const store = new CacheStore(dir);
    const meta = { id: 'c.bin', url: 'http://cdn.test/c.bin' };
    const path = (await store.insertBytes(fragment, data, sha256(data), meta)).path;
    const whole = await stat(path);
    await store.insertBytes(fragment, data, sha256(data), meta);
    expect((await stat(path)).ino).toBe(whole.ino);

    await writeFile(path, data.subarray(0, 1000));
    await store.insertBytes(fragment, data, sha256(data), meta);
    expect((await readFile(path)).equals(data)).toBe(true);
    expect(await readdir(join(dir, 'tmp'))).toEqual([]);
    await rm(dir, { recursive: true, force: true });
  });
});
