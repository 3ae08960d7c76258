import cacache from 'cacache';
import { mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MemoryFile } from '../../src/receive/data-file.js';
import { SmallBuffers } from '../../src/receive/small-buffers.js';
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
  it('hands out at most `count` buffers, reuses them, and serves waiters by rank', async () => {
    const pool = new SmallBuffers(1, 16);
    const first = await pool.acquire(0);
    expect(first.buffer.buffer).toBeInstanceOf(SharedArrayBuffer);
    const order: number[] = [];
    const late = pool.acquire(5).then((held) => {
      order.push(5);
      return held;
    });
    const urgent = pool.acquire(1).then((held) => {
      order.push(1);
      return held;
    });
    // A turn of the event loop: whatever a free buffer would have let through has run by then.
    await new Promise((resolve) => setImmediate(resolve));
    expect(order).toEqual([]);
    first.release();
    first.release(); // twice is once
    const second = await urgent;
    expect(second.buffer).toBe(first.buffer);
    second.release();
    (await late).release();
    expect(order).toEqual([1, 5]);
  });

  it('rejects a waiter whose run is interrupted', async () => {
    const pool = new SmallBuffers(1, 16);
    await pool.acquire(0);
    const controller = new AbortController();
    const waiting = pool.acquire(0, controller.signal);
    controller.abort(new Error('interrupted'));
    await expect(waiting).rejects.toThrow('interrupted');
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
