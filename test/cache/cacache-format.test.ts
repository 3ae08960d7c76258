import cacache from 'cacache';
import { writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  bucketPath,
  CONTENT_FOLDER,
  contentPathOf,
  INDEX_FOLDER,
  tempPath,
} from '../../src/cache/cacache-format.js';
import { readBucket } from '../../src/cache/index-bucket.js';
import { CacheStore, cacheKey } from '../../src/cache/store.js';
import { parseManifest } from '../../src/manifest/parse.js';
import { randomBytesSeeded, sriOf, tempDir } from '../support/fixtures.js';

/** cacache's own path functions, which its public API does not export. */
const require = createRequire(import.meta.url);
const theirs = {
  bucketPath: require('cacache/lib/entry-index.js').bucketPath as (cache: string, key: string) => string,
  contentPath: require('cacache/lib/content/path.js') as (cache: string, integrity: string) => string,
  tmpName: require('cacache/lib/util/tmp.js').tmpName as (cache: string) => string,
};

const sha256 = (data: Buffer) => sriOf(data).slice('sha256-'.length);

function fragmentOf(path: string, data: Buffer) {
  const manifest = parseManifest(
    {
      version: 1,
      baseUrls: ['http://cdn.test/'],
      fragments: [{ path, size: data.length, integrity: sriOf(data) }],
    },
    'm.json',
  );
  return manifest.fragments[0]!;
}

let dir: string;
beforeEach(async () => {
  dir = await tempDir('format-');
});
afterEach(async () => {
  await cacache.rm.all(dir).catch(() => {});
});

describe("cacache's on-disk format, pinned against cacache", () => {
  it("names buckets, content and temporary files where cacache's own functions do", () => {
    const integrity = sriOf(Buffer.from('x'));
    expect(bucketPath(dir, 'some key')).toBe(theirs.bucketPath(dir, 'some key'));
    expect(contentPathOf(dir, integrity)).toBe(theirs.contentPath(dir, integrity));
    const sha512 = sriOf(Buffer.from('x'), 'sha512');
    expect(contentPathOf(dir, sha512)).toBe(theirs.contentPath(dir, sha512));
    expect(dirname(tempPath(dir))).toBe(dirname(theirs.tmpName(dir)));
    expect(tempPath(dir)).not.toBe(tempPath(dir));
    // The versions come from cacache's package.json, not from a copy of them.
    const versions = require('cacache/package.json')['cache-version'] as { index: string; content: string };
    expect([INDEX_FOLDER, CONTENT_FOLDER]).toEqual([
      `index-v${versions.index}`,
      `content-v${versions.content}`,
    ]);
  });

  it('what we write, cacache.get, cacache.ls and cacache.verify read back whole', async () => {
    const store = new CacheStore(dir);
    const small = randomBytesSeeded(64 * 1024, 'format-small');
    const large = randomBytesSeeded(3 * 1024 * 1024, 'format-large');
    const smallFragment = fragmentOf('small.bin', small);
    const largeFragment = fragmentOf('large.bin', large);
    const metadata = (id: string) => ({ id, url: `http://cdn.test/${id}`, etag: '"v1"' });
    await store.insertBytes(smallFragment, small, sha256(small), metadata('small.bin'));
    const file = join(dir, 'finished-partial');
    await writeFile(file, large);
    await store.insertFile(largeFragment, file, sha256(large), large.length, metadata('large.bin'));

    for (const [fragment, data] of [
      [smallFragment, small],
      [largeFragment, large],
    ] as const) {
      const got = await cacache.get(dir, cacheKey(fragment));
      expect(got.data.equals(data)).toBe(true);
      expect(got.integrity).toBe(sriOf(data));
      expect(got.size).toBe(data.length);
      expect(got.metadata).toEqual(metadata(fragment.path));
    }
    const listed = await cacache.ls(dir);
    expect(Object.keys(listed).sort()).toEqual([cacheKey(largeFragment), cacheKey(smallFragment)].sort());
    expect(listed[cacheKey(smallFragment)]).toMatchObject({
      integrity: sriOf(small),
      size: small.length,
      metadata: metadata('small.bin'),
      path: contentPathOf(dir, sriOf(small)),
    });
    const verified = await cacache.verify(dir);
    expect(verified).toMatchObject({
      verifiedContent: 2,
      badContentCount: 0,
      missingContent: 0,
      rejectedEntries: 0,
      totalEntries: 2,
    });
  });

  it('what cacache.put writes, our reader and CacheStore.lookup find', async () => {
    const data = randomBytesSeeded(100_000, 'format-put');
    const fragment = fragmentOf('put.bin', data);
    const key = cacheKey(fragment);
    await cacache.put(dir, key, data, { metadata: { id: 'put.bin', url: 'http://cdn.test/put.bin' } });

    // cacache's default algorithm is sha512.
    const read = await readBucket(bucketPath(dir, key), key);
    expect(read.damaged).toBe(0);
    expect(read.entry).toMatchObject({
      key,
      integrity: sriOf(data, 'sha512'),
      size: data.length,
      metadata: { id: 'put.bin', url: 'http://cdn.test/put.bin' },
    });
    const hit = await new CacheStore(dir).lookup(fragment);
    expect(hit).toMatchObject({ key, integrity: sriOf(data, 'sha512'), size: data.length });
    expect(hit?.path).toBe((await cacache.get.info(dir, key))?.path);

    // And under sha256, ours.
    const other = await cacache.put(dir, 'other', data, { algorithms: ['sha256'] });
    expect(other.toString()).toBe(sriOf(data));
    expect((await readBucket(bucketPath(dir, 'other'), 'other')).entry?.integrity).toBe(sriOf(data));
    expect(contentPathOf(dir, sriOf(data))).toBe((await cacache.get.info(dir, 'other'))?.path);
  });
});
