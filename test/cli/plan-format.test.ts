import { Chalk } from 'chalk';
import { describe, expect, it } from 'vitest';
import { formatPlan, type PlanReport } from '../../src/cli/dry-run.js';
import { formatMirrorPlan } from '../../src/cli/mirror-plan.js';

const c = new Chalk({ level: 0 });
/** Past the ~10^5 arguments a spread into Math.max can take. */
const MANY = 200_000;

describe('the human dry-run plan of a large manifest', () => {
  it('lists every fragment, its columns as wide as the widest', () => {
    const download = Array.from({ length: MANY }, (_, i) => ({
      id: `f${i}`,
      path: `f${i}`,
      priority: 'normal' as const,
      size: i,
      url: `https://cdn.example/f${i}`,
    }));
    const report: PlanReport = {
      dryRun: true,
      manifest: { name: 'big', source: 'big.json' },
      cache: { dir: '/cache' },
      fragments: { total: MANY, toDownload: MANY, cached: 0 },
      bytes: { toDownload: 0, cached: 0, undeclared: 0 },
      priorities: [{ priority: 'normal', toDownload: MANY, bytesToDownload: 0, cached: 0, bytesCached: 0 }],
      download,
      cached: [],
      endpoints: [{ url: 'https://cdn.example', primary: MANY, fallback: 0 }],
    };
    const lines = formatPlan(report, c).split('\n');
    expect(lines.filter((line) => line.startsWith('    download'))).toHaveLength(MANY);
    expect(lines).toContain(`    download  f0${' '.repeat(5)}        0 B  https://cdn.example/f0`);
  });

  it('lists every file of a mirror plan', () => {
    const write = Array.from({ length: MANY }, (_, i) => ({
      path: `d/${i}`,
      reason: 'missing',
      fragments: 1,
      bytes: 1,
    }));
    const text = formatMirrorPlan({ dir: '/m', exists: false, write, upToDate: [], delete: [], refused: [] });
    expect(text.split('\n').filter((line) => line.startsWith('    write'))).toHaveLength(MANY);
    expect(text).toContain(`    write    d/0${' '.repeat(5)}  1 B\n`);
  });
});
