/**
 * planMirror into a folder that does not exist yet: every file is written from nothing, each file
 * being its own decision (no object more per file, for manifests of 10^6 files).
 */
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseManifest } from '../../src/manifest/parse.js';
import { planMirror } from '../../src/mirror/plan.js';
import { tempDir } from '../support/fixtures.js';

let work: string | undefined;

afterEach(async () => {
  if (work !== undefined) await rm(work, { recursive: true, force: true });
  work = undefined;
});

describe('planMirror into a folder that does not exist', () => {
  it('decides to write every file, each file its own decision, with every fragment needed', async () => {
    work = await tempDir('fragfetch-plan-');
    const manifest = parseManifest(
      {
        version: 1,
        baseUrls: ['http://cdn.test/m/'],
        fragments: [
          { path: 'a.bin', size: 3 },
          { path: 'big.bin', offset: 10, size: 5 },
          { path: 'dir/b.bin', priority: 'critical' },
          { path: 'big.bin', offset: 0, size: 10 },
        ],
      },
      'plan.json',
    );
    const plan = await planMirror(manifest, join(work, 'missing'), {
      cacheDir: join(work, 'cache'),
      create: false,
    });
    expect(plan.exists).toBe(false);
    expect(plan.files.map((file) => file.path)).toEqual(['dir/b.bin', 'a.bin', 'big.bin']);
    // The files answer as their decisions: no list made.
    expect(plan.decisions).toBe(plan.files);
    for (const [i, decision] of plan.decisions.entries()) {
      expect(decision).toMatchObject({ action: 'write', reason: 'missing', kept: {}, base: false });
      if (decision.action !== 'write') continue;
      expect(decision.file).toBe(plan.files[i]);
    }
    const needed = plan.decisions.map((d) => (d.action === 'write' ? d.needed.map((f) => f.id) : []));
    expect(needed).toEqual([['dir/b.bin'], ['a.bin'], ['big.bin#0', 'big.bin#10']]);
    // Every fragment needed: the manifest's own array, and its order made once.
    expect(plan.needed.fragments).toBe(manifest.fragments);
    expect(plan.neededOrder?.map((f) => f.id)).toEqual(['dir/b.bin', 'a.bin', 'big.bin#10', 'big.bin#0']);
  });
});
