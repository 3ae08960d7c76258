import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isFragfetchError } from '../../src/errors.js';
import { createManifest } from '../../src/manifest/create.js';
import { parseManifest } from '../../src/manifest/parse.js';
import { runCli } from '../support/cli.js';

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

  it('leaves out fragfetch state, VCS folders and temp files at any depth', async () => {
    for (const folder of ['.fragfetch', '.git', '.hg', '.svn', 'sub/.git']) {
      await mkdir(join(dir, folder), { recursive: true });
      await writeFile(join(dir, folder, 'state.json'), '{}');
    }
    await writeFile(join(dir, 'a.bin'), 'a');
    await writeFile(join(dir, 'b.bin.fragfetch-tmp'), 'half');
    await writeFile(join(dir, 'sub', 'c.bin'), 'c');
    await writeFile(join(dir, '.gitattributes'), 'x');
    const document = await createManifest(dir, { baseUrl: 'https://x.example/' });
    expect(document.fragments.map((f) => f.path)).toEqual(['.gitattributes', 'a.bin', 'sub/c.bin']);
  });

  it('--include and --exclude filter by path, a slash-less glob matching in every folder', async () => {
    await mkdir(join(dir, 'docs', 'deep'), { recursive: true });
    for (const path of ['a.bin', 'README.md', 'docs/guide.md', 'docs/deep/x.bin', 'b.json'])
      await writeFile(join(dir, ...path.split('/')), path);
    const paths = async (options: { include?: string[]; exclude?: string[] }) =>
      (await createManifest(dir, { baseUrl: 'https://x.example/', ...options })).fragments.map((f) => f.path);

    expect(await paths({ exclude: ['*.md'] })).toEqual(['a.bin', 'b.json', 'docs/deep/x.bin']);
    expect(await paths({ exclude: ['docs/**'] })).toEqual(['README.md', 'a.bin', 'b.json']);
    expect(await paths({ include: ['*.{bin,json}'], exclude: ['docs/*/x.bin'] })).toEqual([
      'a.bin',
      'b.json',
    ]);
    expect(await paths({ include: ['docs/*'] })).toEqual(['docs/guide.md']);
    await expect(paths({ include: ['*.zip'] })).rejects.toThrow(`no files under ${dir}`);
  });

  it('follows symbolic links to files and folders, as in a Hugging Face cache snapshot, and says so', async () => {
    await mkdir(join(dir, 'blobs'));
    await mkdir(join(dir, 'snapshots', 'abc', 'sub'), { recursive: true });
    await writeFile(join(dir, 'blobs', '1111'), 'weights');
    await writeFile(join(dir, 'blobs', '2222'), '{"a":1}');
    await symlink('../../blobs/1111', join(dir, 'snapshots', 'abc', 'model.safetensors'));
    await symlink('../../../blobs/2222', join(dir, 'snapshots', 'abc', 'sub', 'config.json'));
    await symlink('sub', join(dir, 'snapshots', 'abc', 'again'));
    await symlink('nowhere', join(dir, 'snapshots', 'abc', 'dangling'));
    const notices: string[] = [];
    const document = await createManifest(join(dir, 'snapshots', 'abc'), {
      baseUrl: 'https://x.example/',
      onNotice: (message) => notices.push(message),
    });
    expect(document.fragments).toEqual([
      { path: 'again/config.json', size: 7, integrity: sri('{"a":1}') },
      { path: 'model.safetensors', size: 7, integrity: sri('weights') },
      { path: 'sub/config.json', size: 7, integrity: sri('{"a":1}') },
    ]);
    expect(notices).toEqual([
      'followed 4 symbolic links: again, again/config.json, model.safetensors, sub/config.json',
      'left out 1 symbolic link to nothing: dangling',
    ]);
  });

  it('refuses a symbolic link loop', async () => {
    await mkdir(join(dir, 'a', 'b'), { recursive: true });
    await writeFile(join(dir, 'a', 'x'), 'x');
    await symlink('..', join(dir, 'a', 'b', 'up'));
    const error = await createManifest(dir, { baseUrl: 'https://x.example/' }).catch((e: unknown) => e);
    expect(isFragfetchError(error, 'EUSAGE')).toBe(true);
    expect((error as Error).message).toBe(
      `symbolic link loop: ${join(dir, 'a', 'b', 'up')} leads back to a folder that contains it`,
    );
    await symlink('self', join(dir, 'self'));
    await rm(join(dir, 'a', 'b', 'up'));
    await expect(createManifest(dir, { baseUrl: 'https://x.example/' })).rejects.toThrow(
      `symbolic link loop: ${join(dir, 'self')}`,
    );
  });

  it('exits 2 with one line for a bad glob, through the CLI', async () => {
    await writeFile(join(dir, 'a'), 'a');
    const result = await runCli([
      'manifest',
      'create',
      dir,
      '--base-url',
      'https://x.example/',
      '--include',
      '[ab',
    ]);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toBe('fragfetch: invalid glob "[ab": "[" without "]"\n');
  });
});
