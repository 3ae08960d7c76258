import cacache from 'cacache';
import { appendFile, rm } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { bucketPath, contentPathOf } from '../../src/cache/cacache-format.js';
import { appendEntry, readBucket } from '../../src/cache/index-bucket.js';
import { tempDir } from '../support/fixtures.js';

const integrity = 'sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=';

describe("cacache's index buckets, without cacache", () => {
  it("reads cacache's own entries and writes entries cacache reads; the newest line of a key wins", async () => {
    const dir = await tempDir('bucket-');
    await cacache.index.insert(dir, 'k', integrity, { size: 0, metadata: { by: 'cacache' } });
    const bucket = bucketPath(dir, 'k');
    expect((await readBucket(bucket, 'k')).entry).toMatchObject({
      key: 'k',
      integrity,
      metadata: { by: 'cacache' },
    });

    await appendEntry(bucket, { key: 'k', integrity, time: 1234, size: 0, metadata: { by: 'us' } });
    const ours = await readBucket(bucket, 'k');
    expect(ours).toEqual({
      entry: { key: 'k', integrity, time: 1234, size: 0, metadata: { by: 'us' } },
      damaged: 0,
    });
    const theirs = await cacache.get.info(dir, 'k');
    expect(theirs?.metadata).toEqual({ by: 'us' });
    expect(theirs?.path).toBe(contentPathOf(dir, integrity));
    await rm(dir, { recursive: true, force: true });
  });

  it('counts damaged lines, skips them, and honours a deletion', async () => {
    const dir = await tempDir('bucket-');
    const bucket = bucketPath(dir, 'k');
    await appendEntry(bucket, { key: 'k', integrity, time: 1, size: 0 });
    await appendFile(bucket, '\nnot-a-hash\t{"key":"k"}\ngarbage');
    const read = await readBucket(bucket, 'k');
    expect(read.entry?.time).toBe(1);
    expect(read.damaged).toBe(2);
    expect((await readBucket(bucket, 'other')).entry).toBeUndefined();

    await appendEntry(bucket, { key: 'k', integrity: null, time: 2 });
    expect((await readBucket(bucket, 'k')).entry).toBeUndefined();
    expect(await readBucket(bucketPath(dir, 'missing'), 'missing')).toEqual({ entry: undefined, damaged: 0 });
    await rm(dir, { recursive: true, force: true });
  });

  it('names the content of single sha integrities only', () => {
    expect(contentPathOf('/c', integrity)).toBe(
      '/c/content-v2/sha256/e3/b0/c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
    );
    expect(contentPathOf('/c', `${integrity} sha512-abc=`)).toBeUndefined();
    expect(contentPathOf('/c', 'md5-abc')).toBeUndefined();
  });
});
