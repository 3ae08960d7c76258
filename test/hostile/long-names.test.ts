import { readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { tempNameOf } from '../../src/mirror/write.js';
import { randomBytesSeeded, sriOf, tempDir } from '../support/fixtures.js';
import { type Harness, harness } from '../support/harness.js';
import { mirror, writeManifest } from '../mirror/helpers.js';

/** File names of 241–255 bytes, the longest a file system takes: mirror's temporary name must fit too. */
let h: Harness;
beforeEach(async () => {
  h = await harness();
});
afterEach(async () => {
  await h.close();
});

describe('long file names', () => {
  it('gives every name a temporary name of 35 bytes', () => {
    for (const name of ['a', 'x'.repeat(255), 'é'.repeat(127)]) {
      expect(Buffer.byteLength(tempNameOf(name))).toBe(35);
      expect(tempNameOf(name)).toMatch(/^\.[0-9a-f]{20}\.fragfetch-tmp$/);
    }
    expect(tempNameOf('a')).not.toBe(tempNameOf('b'));
  });

  for (const length of [241, 250, 255]) {
    it(`mirrors a file whose name is ${length} bytes`, async () => {
      // Two-byte characters too: the limit is of bytes, not characters.
      const name = `${'é'.repeat(60)}${'n'.repeat(length - 120 - 4)}.bin`;
      expect(Buffer.byteLength(name)).toBe(length);
      const body = randomBytesSeeded(300_000, name);
      h.cdn.set(`/m/${name}`, body);
      const manifest = await writeManifest(h, [{ path: name, size: body.length, integrity: sriOf(body) }]);
      const dir = await tempDir('fragfetch-long-');
      const result = await mirror(manifest, dir, h.cacheDir);
      expect(result.code, result.stdout + result.stderr).toBe(0);
      expect((await readFile(join(dir, name))).equals(body)).toBe(true);
      expect((await readdir(dir)).filter((entry) => entry.endsWith('.fragfetch-tmp'))).toEqual([]);
      await rm(dir, { recursive: true, force: true });
    });
  }
});
