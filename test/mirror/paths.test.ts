import { mkdir, realpath, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ensureParents, inspectTarget, isInside, targetPath } from '../../src/mirror/paths.js';
import { tempDir } from '../support/fixtures.js';

let root: string;
let outside: string;

beforeEach(async () => {
  root = await realpath(await tempDir('mirror-root-'));
  outside = await realpath(await tempDir('mirror-outside-'));
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
  await rm(outside, { recursive: true, force: true });
});

describe('path safety', () => {
  it('isInside compares whole components', () => {
    expect(isInside('/a/b', '/a/b/c')).toBe(true);
    expect(isInside('/a/b', '/a/bc')).toBe(false);
    expect(isInside('/a/b', '/a')).toBe(false);
  });

  it.each(['../x', 'a/../../x', '/etc/passwd', 'a\\b', '', 'a//b', 'C:/x'])(
    'targetPath refuses %j',
    (path) => {
      expect(() => targetPath(root, path)).toThrow(expect.objectContaining({ code: 'EPATH' }));
    },
  );

  it('inspectTarget reports missing, file, and a link inside as replaceable', async () => {
    await mkdir(join(root, 'd'));
    await writeFile(join(root, 'd', 'f'), 'x');
    await symlink(join(root, 'd', 'f'), join(root, 'link'));
    expect(await inspectTarget(root, 'd/missing')).toEqual({ kind: 'missing' });
    expect(await inspectTarget(root, 'nope/missing')).toEqual({ kind: 'missing' });
    expect((await inspectTarget(root, 'd/f')).kind).toBe('file');
    expect(await inspectTarget(root, 'link')).toEqual({ kind: 'other' });
  });

  it('inspectTarget and ensureParents refuse a directory link that leads outside', async () => {
    await symlink(outside, join(root, 'out'));
    await expect(inspectTarget(root, 'out/f')).rejects.toMatchObject({ code: 'EPATH' });
    await expect(ensureParents(root, 'out/sub/f')).rejects.toMatchObject({ code: 'EPATH' });
  });

  it('refuses a file link that leads outside, even dangling', async () => {
    await symlink(join(outside, 'secret'), join(root, 'f'));
    await expect(inspectTarget(root, 'f')).rejects.toMatchObject({ code: 'EPATH' });
    await writeFile(join(outside, 'secret'), 'x');
    await expect(inspectTarget(root, 'f')).rejects.toMatchObject({ code: 'EPATH' });
  });

  it('follows a directory link that stays inside', async () => {
    await mkdir(join(root, 'real'));
    await symlink(join(root, 'real'), join(root, 'alias'));
    expect(await ensureParents(root, 'alias/f')).toBe(join(root, 'alias'));
    expect(await inspectTarget(root, 'alias/f')).toEqual({ kind: 'missing' });
  });

  it('refuses a file where a directory is needed, and a directory where the file goes', async () => {
    await writeFile(join(root, 'f'), 'x');
    await mkdir(join(root, 'd'));
    await expect(inspectTarget(root, 'f/x')).rejects.toMatchObject({ code: 'EPATH' });
    await expect(ensureParents(root, 'f/x')).rejects.toMatchObject({ code: 'EPATH' });
    await expect(inspectTarget(root, 'd')).rejects.toMatchObject({ code: 'EPATH' });
  });
});
