/**
 * The `manifest-scale` scenario (issue 19): a manifest of 10^6 fragments (bench/scale-manifest.ts,
 * ~36 MiB) validated, ordered and planned without a request, by the three commands that read all
 * of it: `manifest validate`, `fetch --dry-run --json` and `mirror --dry-run --json` into a folder
 * that does not exist yet, each into an empty cache. Each must take ≤ 3 s and ≤ 400 MiB of peak
 * RSS. Their output (160–270 MB of JSON) goes to a file: the harness keeps 16 MB of stdout.
 */
import { open, stat } from 'node:fs/promises';
import path from 'node:path';
import type { RunResult } from './measure.js';
import { releaseFiles } from './release.js';
import type { PreparedRun, Row } from './rows.js';
import { SCALE_FRAGMENTS, writeScaleManifest } from './scale-manifest.js';
import type { MetricTarget, Scenario } from './scenarios.js';
import { describeFailure, type Verdict } from './verdict.js';
import type { ScenarioContext } from './workload.js';

export const MANIFEST_SCALE_SECONDS = 3;
export const MANIFEST_SCALE_RSS_MIB = 400;

interface Command {
  id: string;
  label: string;
  args: (manifest: string, dir: string) => string[];
  /** What the start of its output must say. */
  expect: string;
}

const COMMANDS: Command[] = [
  {
    id: 'validate',
    label: 'fragfetch manifest validate',
    args: (manifest) => ['manifest', 'validate', manifest],
    expect: `valid, ${SCALE_FRAGMENTS} fragments`,
  },
  {
    id: 'fetch-dry-run',
    label: 'fragfetch fetch --dry-run --json',
    args: (manifest, dir) => ['fetch', manifest, '--dry-run', '--json', '--cache', path.join(dir, 'cache')],
    expect: `"total": ${SCALE_FRAGMENTS},`,
  },
  {
    id: 'mirror-dry-run',
    label: 'fragfetch mirror --dry-run --json',
    args: (manifest, dir) => [
      'mirror',
      manifest,
      path.join(dir, 'mirror'),
      '--dry-run',
      '--json',
      '--cache',
      path.join(dir, 'cache'),
    ],
    expect: `"total": ${SCALE_FRAGMENTS},`,
  },
];

export async function manifestScaleScenario(ctx: ScenarioContext): Promise<Scenario> {
  const manifest = path.join(ctx.workDir, 'manifest-scale.json');
  const shape = await writeScaleManifest(manifest);
  const { size } = await stat(manifest);
  const rows = COMMANDS.map((command) => row(ctx, manifest, command));
  return {
    name: 'manifest-scale',
    description: `${shape.fragments} fragments (${(size / 2 ** 20).toFixed(1)} MiB of JSON; ${shape.files} files, one fragment in ten a byte range of one of 100) validated and planned, no request: ${COMMANDS.map((c) => `\`${c.label.replace(/^fragfetch /, '')}\``).join(', ')}, stdout to a file, an empty cache`,
    files: shape.fragments,
    bytes: size,
    rows,
    targets: COMMANDS.flatMap((command): MetricTarget[] => [
      {
        label: `${command.label} ≤ ${MANIFEST_SCALE_SECONDS} s`,
        row: command.id,
        metric: 'seconds',
        unit: 's',
        atMost: MANIFEST_SCALE_SECONDS,
      },
      {
        label: `${command.label}: peak RSS ≤ ${MANIFEST_SCALE_RSS_MIB} MiB`,
        row: command.id,
        metric: 'rssMiB',
        unit: 'MiB',
        atMost: MANIFEST_SCALE_RSS_MIB,
      },
    ]),
    conditions: [],
    rssLimitMiB: MANIFEST_SCALE_RSS_MIB,
  };
}

function row(ctx: ScenarioContext, manifest: string, command: Command): Row {
  return {
    id: command.id,
    tool: 'fragfetch',
    label: command.label,
    prepare: async (round): Promise<PreparedRun> => {
      const out = path.join(round.dir, `${command.id}.out`);
      const fragfetch = [process.execPath, path.join(ctx.projectRoot, 'bin', 'fragfetch.js')];
      return {
        // `exec`: the command itself is what GNU time measures, its stdout the file.
        argv: [
          'bash',
          '-c',
          'out=$1; shift; exec "$@" > "$out"',
          'bash',
          out,
          ...fragfetch,
          ...command.args(manifest, round.dir),
        ],
        verify: (result) => verdict(result, out, command.expect),
        release: async () => {
          await releaseFiles(round.dir);
        },
        cleanup: async () => {},
      };
    },
  };
}

/** Exit 0 and the output's start saying what it must: its time and peak RSS as metrics. */
async function verdict(result: RunResult, out: string, expect: string): Promise<Verdict> {
  const failure = describeFailure(result);
  if (failure !== undefined) return { ok: false, problem: failure };
  const file = await open(out);
  let head: string;
  try {
    const buffer = Buffer.alloc(4096);
    const { bytesRead } = await file.read(buffer, 0, buffer.length, 0);
    head = buffer.subarray(0, bytesRead).toString('utf8');
  } finally {
    await file.close();
  }
  if (!head.includes(expect))
    return { ok: false, problem: `the output does not say ${expect}: ${head.slice(0, 200)}` };
  return {
    ok: true,
    metrics: {
      seconds: result.seconds,
      ...(result.rssKiB === null ? {} : { rssMiB: result.rssKiB / 1024 }),
    },
  };
}
