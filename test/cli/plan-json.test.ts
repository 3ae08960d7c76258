/**
 * The dry run's two long lists, written item by item from strings made once (plain paths between
 * them as they are), are byte for byte what JSON.stringify(…, null, 2) writes of the report's
 * objects, for paths JSON must escape and paths it need not, ranges, own URLs and ids.
 */
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { planDocument, planFor, planReport } from '../../src/cli/dry-run.js';
import { jsonStringContent, type JsonOutput, writeJsonDocument } from '../../src/cli/json-stream.js';
import { mirrorPlanDocument, mirrorPlanReport } from '../../src/cli/mirror-plan.js';
import { parseManifest } from '../../src/manifest/parse.js';
import { planMirror } from '../../src/mirror/plan.js';
import { tempDir } from '../support/fixtures.js';

let work: string | undefined;

afterEach(async () => {
  if (work !== undefined) await rm(work, { recursive: true, force: true });
  work = undefined;
});

function sink(): JsonOutput & { text: string } {
  const decoder = new TextDecoder('utf-8', { fatal: true });
  const out = {
    text: '',
    write: (chunk: Uint8Array) => {
      out.text += decoder.decode(chunk, { stream: true });
      return true;
    },
  };
  return out;
}

const manifest = parseManifest(
  {
    version: 1,
    baseUrls: ['https://user:pw@cdn.example.com/m/?token=abc', 'https://b.example.com/m/'],
    fragments: [
      { path: 't/0/1', size: 7 },
      { path: 'quote"d/x', size: 3, priority: 'high' },
      { path: 'ctrl\u0001/tab\t', size: 1 },
      { path: 'ünï/😀', size: 2, priority: 'critical' },
      { path: 'd e#1.bin' },
      { path: 'own.bin', url: 'https://elsewhere.example.com/own.bin?sig=xyz', size: 4 },
      { id: 'named "id"', path: 'named/x', size: 5, priority: 'low' },
      { id: 'plain-id', path: 'named/y', size: 6 },
      { path: 'big.bin', offset: 10, size: 5 },
      { path: 'big.bin', offset: 0, size: 10 },
      { path: 'big "q".bin', offset: 0, size: 1, priority: 'background' },
    ],
  },
  'plan.json',
);

describe('the dry run lists as JSON', () => {
  it('writes the fetch plan and the mirror plan as JSON.stringify writes their reports', async () => {
    work = await tempDir('fragfetch-plan-json-');
    const cacheDir = join(work, 'cache');
    const plan = await planMirror(manifest, join(work, 'missing'), { cacheDir, create: false });
    const fetchPlan = planDocument(
      plan.needed,
      await planFor(plan.needed, cacheDir, plan.neededOrder),
      cacheDir,
    );
    const mirror = mirrorPlanDocument(plan);
    const out = sink();
    await writeJsonDocument(out, { ...fetchPlan, mirror });
    const report = { ...planReport(fetchPlan), mirror: mirrorPlanReport(mirror) };
    expect(out.text).toBe(`${JSON.stringify(report, null, 2)}\n`);
    expect(report.download).toHaveLength(11);
    expect(report.mirror.write.map((w) => [w.path, w.fragments, w.bytes])).toContainEqual(['big.bin', 2, 15]);
  });

  it('takes a string JSON need not escape as it is, and escapes any other as JSON.stringify does', () => {
    const plain = 'a/b-c_d.e~f!(g)';
    expect(jsonStringContent(plain)).toBe(plain);
    for (const text of ['q"', 'b\\s', 'n\n', 'del\u007f', 'é', '😀', '\ud800', '']) {
      expect(`"${jsonStringContent(text)}"`).toBe(JSON.stringify(text));
    }
  });
});
