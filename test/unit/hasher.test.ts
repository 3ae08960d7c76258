import { createHash } from 'node:crypto';
import { open, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ProgressiveHasher, WholeHasher } from '../../src/receive/hasher.js';
import { Coverage } from '../../src/fetch/coverage.js';
import { randomBytesSeeded, tempDir } from '../support/fixtures.js';

const digest = (data: Buffer, algorithm = 'sha256') => createHash(algorithm).update(data).digest('base64');

describe('ProgressiveHasher', () => {
  it('hashes out-of-order writes in one pass, reading back only what was not at the frontier', async () => {
    const dir = await tempDir('hasher-');
    const file = await open(join(dir, 'data'), 'w+');
    const data = randomBytesSeeded(10 * 1024 * 1024 + 7, 1);
    const hasher = new ProgressiveHasher(file, ['sha256', 'sha512']);
    const pieces = [
      [6_000_000, data.length],
      [0, 1_000_000],
      [3_000_000, 6_000_000],
      [1_000_000, 3_000_000],
    ] as const;
    for (const [start, end] of pieces) {
      const chunk = data.subarray(start, end);
      await file.write(chunk, 0, chunk.length, start);
      hasher.written(start, chunk.length, [chunk]);
    }
    const digests = await hasher.digests(data.length);
    expect(digests.get('sha256')).toBe(digest(data));
    expect(digests.get('sha512')).toBe(digest(data, 'sha512'));
    await file.close();
    await rm(dir, { recursive: true });
  });

  it('re-hashes a resumed prefix from disk, and reset starts over', async () => {
    const dir = await tempDir('hasher-');
    const file = await open(join(dir, 'data'), 'w+');
    const data = randomBytesSeeded(100_000, 2);
    await file.write(data, 0, 60_000, 0);
    const hasher = new ProgressiveHasher(file, ['sha256']);
    hasher.resumeFrom(new Coverage([{ start: 0, end: 60_000 }]));
    await file.write(data, 60_000, 40_000, 60_000);
    hasher.written(60_000, 40_000, [data.subarray(60_000)]);
    expect((await hasher.digests(data.length)).get('sha256')).toBe(digest(data));

    hasher.reset();
    const other = randomBytesSeeded(1000, 3);
    await file.write(other, 0, other.length, 0);
    hasher.written(0, other.length, [other]);
    expect((await hasher.digests(other.length)).get('sha256')).toBe(digest(other));
    await expect(hasher.digests(2000)).rejects.toThrow(/hole/);
    await file.close();
    await rm(dir, { recursive: true });
  });
});

describe('WholeHasher', () => {
  it('digests the first bytes of the buffer it is given, by every algorithm', async () => {
    const data = randomBytesSeeded(70_000, 3);
    let bytes = data.subarray(0, 10);
    const hasher = new WholeHasher(() => bytes, ['sha256', 'sha384']);
    bytes = data;
    const digests = await hasher.digests(65_536);
    expect(digests.get('sha256')).toBe(digest(data.subarray(0, 65_536)));
    expect(digests.get('sha384')).toBe(digest(data.subarray(0, 65_536), 'sha384'));
  });

  it('refuses to digest fewer bytes than asked for', async () => {
    const hasher = new WholeHasher(() => Buffer.alloc(100), ['sha256']);
    await expect(hasher.digests(101)).rejects.toThrow(/hashed 100 of 101 bytes/);
  });
});
