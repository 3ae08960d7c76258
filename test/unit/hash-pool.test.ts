import { createHash } from 'node:crypto';
import { open, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { openHashJob } from '../../src/receive/hash-pool.js';
import { OFFLOAD_MIN_BYTES, ProgressiveHasher } from '../../src/receive/hasher.js';
import { Coverage } from '../../src/fetch/coverage.js';
import { randomBytesSeeded, tempDir } from '../support/fixtures.js';

const digest = (data: Buffer, algorithm = 'sha256') => createHash(algorithm).update(data).digest('base64');

// Files of OFFLOAD_MIN_BYTES and more are hashed by a worker that reads them back.
describe('ProgressiveHasher on a hash worker', () => {
  it('hashes a resumed prefix and out-of-order writes, and starts over after a reset', async () => {
    const dir = await tempDir('hash-pool-');
    const path = join(dir, 'data');
    const file = await open(path, 'w+');
    const data = randomBytesSeeded(OFFLOAD_MIN_BYTES * 3 + 11, 3);
    const third = OFFLOAD_MIN_BYTES;
    await file.write(data, 0, 1000, 0);
    const hasher = new ProgressiveHasher(file, ['sha256', 'sha512'], { path, size: data.length });
    hasher.resumeFrom(new Coverage([{ start: 0, end: 1000 }]));
    for (const [start, end] of [
      [2 * third, data.length],
      [1000, third],
      [third, 2 * third],
    ] as const) {
      await file.write(data, start, end - start, start);
      hasher.written(start, end - start);
    }
    const digests = await hasher.digests(data.length);
    expect(digests.get('sha256')).toBe(digest(data));
    expect(digests.get('sha512')).toBe(digest(data, 'sha512'));

    hasher.reset();
    await file.truncate(0);
    const other = randomBytesSeeded(OFFLOAD_MIN_BYTES + 5, 4);
    await file.write(other, 0, other.length, 0);
    hasher.written(0, other.length);
    expect((await hasher.digests(other.length)).get('sha256')).toBe(digest(other));
    await expect(hasher.digests(other.length + 1)).rejects.toThrow(/hole/);
    await file.close();
    await rm(dir, { recursive: true });
  });

  it('fails the digest when the file is shorter than what was reported', async () => {
    const dir = await tempDir('hash-pool-');
    const path = join(dir, 'data');
    const file = await open(path, 'w+');
    const hasher = new ProgressiveHasher(file, ['sha256'], { path, size: OFFLOAD_MIN_BYTES });
    await file.write(Buffer.alloc(100), 0, 100, 0);
    hasher.written(0, OFFLOAD_MIN_BYTES);
    await expect(hasher.digests(OFFLOAD_MIN_BYTES)).rejects.toThrow(/hashing failed: short read/);
    hasher.dispose();
    await file.close();
    await rm(dir, { recursive: true });
  });

  it('hashes chunks moved to the worker, and reads back the spans whose chunks cannot move', async () => {
    const dir = await tempDir('hash-pool-');
    const path = join(dir, 'data');
    const file = await open(path, 'w+');
    const data = randomBytesSeeded(OFFLOAD_MIN_BYTES * 2 + 64 * 1024 + 5, 5);
    const hasher = new ProgressiveHasher(file, ['sha256'], { path, size: data.length });
    const block = 64 * 1024;
    let moved = 0;
    for (let start = 0; start < data.length; start += 4 * block) {
      const chunks: Buffer[] = [];
      for (let at = start; at < Math.min(start + 4 * block, data.length); at += block) {
        // Whole ArrayBuffers (as Node's HTTP parser gives), except every third batch: views of a
        // larger buffer, which must not be moved.
        const piece = data.subarray(at, Math.min(at + block, data.length));
        chunks.push((start / (4 * block)) % 3 === 2 ? piece : Buffer.from(piece));
      }
      const length = chunks.reduce((sum, chunk) => sum + chunk.length, 0);
      await file.writev(chunks, start);
      hasher.written(start, length, chunks);
      if (chunks[0]!.buffer.byteLength === 0) moved += length;
    }
    expect((await hasher.digests(data.length)).get('sha256')).toBe(digest(data));
    // Moved chunks are detached here; the views of `data` were read back instead.
    expect(moved).toBeGreaterThan(OFFLOAD_MIN_BYTES);
    expect(moved).toBeLessThan(data.length);
    await file.close();
    await rm(dir, { recursive: true });
  });

  it('moves a batch whose first chunk is a small view (a body sharing its read with the headers), copying that one', async () => {
    const read = randomBytesSeeded(64 * 1024, 7);
    // The headers took the read's first 300 bytes; the body's first chunk is the rest of it.
    const first = read.subarray(300);
    const own = (bytes: Buffer) => Buffer.from(new Uint8Array(bytes).buffer);
    const rest = [own(randomBytesSeeded(256 * 1024, 8)), own(randomBytesSeeded(9, 9))];
    const expected = createHash('sha256').update(first);
    for (const chunk of rest) expected.update(chunk);
    const job = openHashJob('never read: every byte is moved', ['sha256'])!;
    expect(job.transfer([first, ...rest])).toBe(true);
    expect(await job.digest()).toEqual([expected.digest('base64')]);
    // The view's buffer stays the caller's; the chunks that own theirs moved.
    expect(read.buffer.byteLength).toBe(64 * 1024);
    expect(rest.map((chunk) => chunk.buffer.byteLength)).toEqual([0, 0]);
    // A larger view is not copied: its span is read back instead.
    const big = randomBytesSeeded(512 * 1024, 10).subarray(1);
    const other = openHashJob('never read', ['sha256'])!;
    expect(other.transfer([big])).toBe(false);
    other.close();
  });

  it('leaves V8 flags alone: no gc() exposed to the process by a running worker', async () => {
    const dir = await tempDir('hash-pool-');
    const path = join(dir, 'data');
    const file = await open(path, 'w+');
    const data = randomBytesSeeded(OFFLOAD_MIN_BYTES * 2, 6);
    const hasher = new ProgressiveHasher(file, ['sha256'], { path, size: data.length });
    const chunks = [
      Buffer.from(data.subarray(0, OFFLOAD_MIN_BYTES)),
      Buffer.from(data.subarray(OFFLOAD_MIN_BYTES)),
    ];
    await file.writev(chunks, 0);
    hasher.written(0, data.length, chunks);
    expect((await hasher.digests(data.length)).get('sha256')).toBe(digest(data));
    expect(chunks[0]!.buffer.byteLength).toBe(0);
    // V8's flags are the process's: a worker's --expose-gc gave every later context a gc().
    expect(runInNewContext('typeof gc')).toBe('undefined');
    await file.close();
    await rm(dir, { recursive: true });
  });

  it('frees moved chunks once hashed, without waiting for a collection', async () => {
    const MiB = 1024 * 1024;
    const before = process.memoryUsage.rss();
    let peak = 0;
    // 64 jobs of 4 MiB in chunks of 1 MiB, each its own memory: a digest answers once its chunks are
    // hashed. Left to V8's collector, the worker's garbage grew by 64–71 MiB here.
    for (let round = 0; round < 64; round++) {
      const job = openHashJob('never read: every byte is moved', ['sha256'])!;
      const chunks = Array.from({ length: 4 }, () => Buffer.alloc(MiB, round));
      const expected = createHash('sha256');
      for (const chunk of chunks) expected.update(chunk);
      expect(job.transfer(chunks)).toBe(true);
      const [digest] = await job.digest();
      expect(digest).toBe(expected.digest('base64'));
      peak = Math.max(peak, process.memoryUsage.rss() - before);
    }
    // Freed at once: a few rounds of chunks at most, never what a collection waits for.
    expect(peak).toBeLessThan(16 * MiB);
  });
});
