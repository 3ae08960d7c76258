import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isFragfetchError } from '../../src/errors.js';
import { createManifest } from '../../src/manifest/create.js';
import { parseManifest } from '../../src/manifest/parse.js';

let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'fragfetch-create-'));
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function sri(data: Buffer | string): string {
  return `sha256-${createHash('sha256').update(data).digest('base64')}`;
}

describe('createManifest', () => {
  it('describes every file, sorted, and round-trips through parseManifest', async () => {
    const big = Buffer.alloc(3 * 1024 * 1024 + 17);
    for (let i = 0; i < big.length; i++) big[i] = (i * 31) & 0xff;
    await mkdir(join(dir, 'models', 'sub'), { recursive: true });
    await writeFile(join(dir, 'b.bin'), 'bee');
    await writeFile(join(dir, 'a.bin'), big);
    await writeFile(join(dir, 'models', 'sub', 'x y.bin'), 'space');
    await writeFile(join(dir, 'models', 'empty'), '');
    await writeFile(join(dir, '.meta'), 'dot');
    await symlink(join(dir, 'b.bin'), join(dir, 'link.bin'));
    await symlink(join(dir, 'models'), join(dir, 'linkdir'));

    const document = await createManifest(dir, { baseUrl: 'https://cdn.example.com/tiny', name: 'tiny' });

    expect(document).toEqual({
      version: 1,
      name: 'tiny',
      baseUrls: ['https://cdn.example.com/tiny'],
      fragments: [
        { path: '.meta', size: 3, integrity: sri('dot') },
        { path: 'a.bin', size: big.length, integrity: sri(big) },
        { path: 'b.bin', size: 3, integrity: sri('bee') },
        { path: 'models/empty', size: 0, integrity: sri('') },
        { path: 'models/sub/x y.bin', size: 5, integrity: sri('space') },
      ],
    });

    const manifest = parseManifest(JSON.parse(JSON.stringify(document)), join(dir, 'manifest.json'));
    expect(manifest.name).toBe('tiny');
    expect(manifest.fragments.map((f) => [f.id, f.urls[0], f.integrity?.sri])).toEqual([
      ['.meta', 'https://cdn.example.com/tiny/.meta', sri('dot')],
      ['a.bin', 'https://cdn.example.com/tiny/a.bin', sri(big)],
      ['b.bin', 'https://cdn.example.com/tiny/b.bin', sri('bee')],
      ['models/empty', 'https://cdn.example.com/tiny/models/empty', sri('')],
      ['models/sub/x y.bin', 'https://cdn.example.com/tiny/models/sub/x%20y.bin', sri('space')],
    ]);
  });

  it('names the manifest after the directory by default', async () => {
    await mkdir(join(dir, 'tiny-llm'));
    await writeFile(join(dir, 'tiny-llm', 'a'), 'a');
    const document = await createManifest(join(dir, 'tiny-llm'), { baseUrl: 'https://x.example/' });
    expect(document.name).toBe('tiny-llm');
  });

  it('refuses a base URL that is not http(s)', async () => {
    await writeFile(join(dir, 'a'), 'a');
    await expect(createManifest(dir, { baseUrl: 'cdn.example.com/tiny' })).rejects.toThrow(
      'invalid base URL "cdn.example.com/tiny": expected an absolute http(s) URL',
    );
  });

  it('refuses an empty directory and a missing one', async () => {
    await expect(createManifest(dir, { baseUrl: 'https://x.example/' })).rejects.toThrow(
      `no files under ${dir}`,
    );
    const missing = join(dir, 'nope');
    const error = await createManifest(missing, { baseUrl: 'https://x.example/' }).catch((e: unknown) => e);
    expect(isFragfetchError(error, 'EUSAGE')).toBe(true);
    expect((error as Error).message).toBe(`cannot read directory ${missing}: no such file or directory`);
  });

  it('refuses a file name that cannot be a fragment path', async () => {
    await writeFile(join(dir, 'back\\slash'), 'x');
    const error = await createManifest(dir, { baseUrl: 'https://x.example/' }).catch((e: unknown) => e);
    expect(isFragfetchError(error, 'EMANIFEST')).toBe(true);
    expect((error as Error).message).toBe(
      'cannot describe "back\\\\slash": a fragment path must use "/" as separator, not "\\"',
    );
  });
});
