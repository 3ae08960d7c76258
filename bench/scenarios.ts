/**
 * The scenarios of issue 7, each as rows (tool invocations) run alternately in every round, and the
 * targets that compare their medians.
 */
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { type FixtureFile, type FixtureGroup, type Fixtures, formatBytes } from './fixtures.js';
import type { RunResult } from './measure.js';
import {
  aria2Argv,
  aria2Label,
  curlArgv,
  curlLabel,
  fragfetchArgv,
  type ToolId,
  type ToolInfo,
  type Transfer,
} from './tools.js';
import { fragfetchVerdict, outputVerdict, type Verdict } from './verdict.js';

export type { Verdict } from './verdict.js';

// small last: it creates and deletes the most files, which slows file creation for minutes after (settle.ts).
export const SCENARIO_NAMES = ['bulk', 'throttled', 'warm', 'ranges', 'small'] as const;
export type ScenarioName = (typeof SCENARIO_NAMES)[number];

/** Per connection, as the issue says: 32 MB/s (decimal), nginx `limit_rate 32000000`. */
export const THROTTLE_BYTES_PER_SECOND = 32_000_000;

/** Peak RSS target for fragfetch, every scenario. */
export const RSS_LIMIT_KIB = 200 * 1024;

export const FIXTURES_NEEDED: Record<ScenarioName, FixtureGroup[]> = {
  bulk: ['bulk'],
  small: ['small'],
  throttled: ['big'],
  warm: ['bulk'],
  ranges: ['big'],
};

export interface PreparedRun {
  argv: string[];
  verify(result: RunResult): Promise<Verdict>;
  /** Deletes what the run wrote (outputs, a cold cache), so the next run writes to disk again. */
  cleanup(): Promise<void>;
}

/** A folder of its own for each round; removed when the round ends. */
export interface RoundContext {
  dir: string;
}

export interface Row {
  id: string;
  tool: ToolId;
  label: string;
  /** Set when the row is not run: the tool is missing or has no equivalent. */
  skip?: string;
  prepare(round: RoundContext): Promise<PreparedRun>;
}

export interface Target {
  label: string;
  /** median(numerator) / median(denominator) ≤ limit */
  numerator: string;
  denominator: string;
  limit: number;
}

export interface Scenario {
  name: ScenarioName;
  description: string;
  files: number;
  bytes: number;
  rows: Row[];
  targets: Target[];
  /** Rows whose every run must satisfy an extra condition, with its description. */
  conditions: { row: string; label: string }[];
}

export interface ScenarioContext {
  projectRoot: string;
  origin: string;
  fixtures: Fixtures;
  tools: Record<ToolId, ToolInfo>;
  workDir: string;
  /** Requests the server has answered so far. */
  serverRequests(): Promise<number>;
}

interface Workload {
  transfers: Transfer[];
  manifestPath: string;
  single: boolean;
  bytes: number;
}

async function writeManifest(ctx: ScenarioContext, name: string, manifest: object): Promise<string> {
  const file = path.join(ctx.workDir, `${name}.manifest.json`);
  await writeFile(file, `${JSON.stringify(manifest, null, 1)}\n`);
  return file;
}

async function wholeFiles(
  ctx: ScenarioContext,
  name: string,
  files: readonly FixtureFile[],
  urlFolder: string,
): Promise<Workload> {
  const base = `${ctx.origin}/${urlFolder}/`;
  const manifestPath = await writeManifest(ctx, name, {
    version: 1,
    name: `bench-${name}`,
    baseUrls: [base],
    fragments: files.map((file) => ({
      path: path.posix.basename(file.path),
      size: file.size,
      integrity: file.sri,
    })),
  });
  return {
    transfers: files.map((file) => ({
      url: base + path.posix.basename(file.path),
      name: path.posix.basename(file.path),
      size: file.size,
    })),
    manifestPath,
    single: files.length === 1,
    bytes: files.reduce((sum, file) => sum + file.size, 0),
  };
}

function group(ctx: ScenarioContext, name: FixtureGroup) {
  const meta = ctx.fixtures.groups[name];
  if (!meta) throw new Error(`fixtures: group ${name} was not prepared`);
  return meta;
}

async function workload(ctx: ScenarioContext, name: ScenarioName): Promise<Workload> {
  switch (name) {
    case 'bulk':
    case 'warm':
      return wholeFiles(ctx, 'bulk', group(ctx, 'bulk').files, 'bulk');
    case 'small':
      return wholeFiles(ctx, 'small', group(ctx, 'small').files, 'small');
    case 'throttled':
      return wholeFiles(ctx, 'throttled', group(ctx, 'big').files, 'throttled');
    case 'ranges': {
      const big = group(ctx, 'big');
      const file = big.files[0]!;
      const slices = big.slices ?? [];
      const base = `${ctx.origin}/big/`;
      const name = path.posix.basename(file.path);
      const manifestPath = await writeManifest(ctx, 'ranges', {
        version: 1,
        name: 'bench-ranges',
        baseUrls: [base],
        fragments: slices.map((slice) => ({
          path: name,
          offset: slice.offset,
          size: slice.size,
          integrity: slice.sri,
        })),
      });
      return {
        transfers: slices.map((slice, i) => ({
          url: base + name,
          name: `slice${String(i).padStart(3, '0')}.bin`,
          size: slice.size,
          range: { start: slice.offset, end: slice.offset + slice.size - 1 },
        })),
        manifestPath,
        single: false,
        bytes: slices.reduce((sum, slice) => sum + slice.size, 0),
      };
    }
  }
}

function fragfetchRow(ctx: ScenarioContext, load: Workload, fragments: number): Row {
  return {
    id: 'fragfetch',
    tool: 'fragfetch',
    label: 'fragfetch fetch',
    prepare: async (round) => {
      const cache = path.join(round.dir, 'fragfetch-cache');
      return {
        argv: fragfetchArgv(ctx.projectRoot, load.manifestPath, cache),
        verify: async (result) => fragfetchVerdict(result, { fragments, bytes: load.bytes, warm: false }),
        cleanup: () => rm(cache, { recursive: true, force: true }),
      };
    },
  };
}

function curlRow(ctx: ScenarioContext, load: Workload, label = curlLabel()): Row {
  const info = ctx.tools.curl;
  return {
    id: 'curl',
    tool: 'curl',
    label,
    ...(info.available ? {} : { skip: info.version }),
    prepare: async (round) => {
      const out = path.join(round.dir, 'curl-out');
      await mkdir(out, { recursive: true });
      return {
        argv: await curlArgv(load.transfers, out, path.join(round.dir, 'curl.config')),
        verify: (result) => outputVerdict(result, out, load.transfers),
        cleanup: () => rm(out, { recursive: true, force: true }),
      };
    },
  };
}

function aria2Row(ctx: ScenarioContext, load: Workload, skip?: string): Row {
  const info = ctx.tools.aria2c;
  const reason = skip ?? (info.available ? undefined : info.version);
  return {
    id: 'aria2c',
    tool: 'aria2c',
    label: aria2Label(load.single),
    ...(reason === undefined ? {} : { skip: reason }),
    prepare: async (round) => {
      const out = path.join(round.dir, 'aria2c-out');
      await mkdir(out, { recursive: true });
      return {
        argv: await aria2Argv(load.transfers, out, path.join(round.dir, 'aria2c.input'), load.single),
        verify: (result) => outputVerdict(result, out, load.transfers),
        cleanup: () => rm(out, { recursive: true, force: true }),
      };
    },
  };
}

export async function buildScenario(ctx: ScenarioContext, name: ScenarioName): Promise<Scenario> {
  const load = await workload(ctx, name);
  const count = load.transfers.length;
  const size = load.transfers[0]?.size ?? 0;
  const base = { name, files: count, bytes: load.bytes, conditions: [] as Scenario['conditions'] };
  switch (name) {
    case 'bulk':
      return {
        ...base,
        description: `${count} × ${formatBytes(size)} (${formatBytes(load.bytes)})`,
        rows: [fragfetchRow(ctx, load, count), aria2Row(ctx, load), curlRow(ctx, load)],
        targets: [
          { label: 'fragfetch ≤ 1.0 × aria2c', numerator: 'fragfetch', denominator: 'aria2c', limit: 1.0 },
          {
            label: 'fragfetch ≤ 1.25 × curl --parallel',
            numerator: 'fragfetch',
            denominator: 'curl',
            limit: 1.25,
          },
        ],
      };
    case 'small':
      return {
        ...base,
        description: `${count} × ${formatBytes(size)} (${formatBytes(load.bytes)})`,
        rows: [fragfetchRow(ctx, load, count), aria2Row(ctx, load), curlRow(ctx, load)],
        targets: [
          { label: 'fragfetch ≤ 0.5 × aria2c', numerator: 'fragfetch', denominator: 'aria2c', limit: 0.5 },
          {
            label: 'fragfetch ≤ 2.5 × curl --parallel',
            numerator: 'fragfetch',
            denominator: 'curl',
            limit: 2.5,
          },
        ],
      };
    case 'throttled':
      return {
        ...base,
        description: `one ${formatBytes(load.bytes)} object, server limits each connection to ${THROTTLE_BYTES_PER_SECOND / 1e6} MB/s`,
        rows: [
          fragfetchRow(ctx, load, count),
          aria2Row(ctx, load),
          // curl has no way to split one object over connections: one connection, for reference.
          curlRow(ctx, load, 'curl (one connection)'),
        ],
        targets: [
          {
            label: 'fragfetch ≤ 1.1 × aria2c -x16 -s16',
            numerator: 'fragfetch',
            denominator: 'aria2c',
            limit: 1.1,
          },
        ],
      };
    case 'ranges':
      return {
        ...base,
        description: `${count} byte-range fragments of ${formatBytes(size)} of one ${formatBytes(group(ctx, 'big').size)} object`,
        rows: [
          fragfetchRow(ctx, load, count),
          aria2Row(ctx, load, 'n/a: aria2c cannot save byte ranges of one URL as separate files'),
          curlRow(ctx, load, `${curlLabel()} (-r per fragment)`),
        ],
        targets: [],
      };
    case 'warm': {
      // Each round fills a fresh cache with a cold bulk run (measured: the reference), then re-runs.
      const cold: Row = {
        id: 'fragfetch-cold',
        tool: 'fragfetch',
        label: 'fragfetch fetch (cold, fills the cache)',
        prepare: async (round) => ({
          argv: fragfetchArgv(ctx.projectRoot, load.manifestPath, path.join(round.dir, 'warm-cache')),
          verify: async (result) =>
            fragfetchVerdict(result, { fragments: count, bytes: load.bytes, warm: false }),
          cleanup: async () => {}, // the warm run needs it
        }),
      };
      const warm: Row = {
        id: 'fragfetch-warm',
        tool: 'fragfetch',
        label: 'fragfetch fetch (warm, same cache)',
        prepare: async (round) => {
          const cache = path.join(round.dir, 'warm-cache');
          const before = await ctx.serverRequests();
          return {
            argv: fragfetchArgv(ctx.projectRoot, load.manifestPath, cache),
            verify: async (result) => {
              // fragfetch's own count, and the server's: neither may see a request.
              const verdict = fragfetchVerdict(result, { fragments: count, bytes: load.bytes, warm: true });
              const serverRequests = (await ctx.serverRequests()) - before;
              if (serverRequests === 0 || !verdict.ok) return { ...verdict, serverRequests };
              return {
                ...verdict,
                ok: false,
                problem: `the server logged ${serverRequests} requests`,
                serverRequests,
              };
            },
            cleanup: () => rm(cache, { recursive: true, force: true }),
          };
        },
      };
      return {
        ...base,
        description: `re-run of bulk (${count} × ${formatBytes(size)}) over the filled cache`,
        rows: [cold, warm],
        targets: [
          {
            label: 'warm ≤ 0.15 × cold bulk',
            numerator: 'fragfetch-warm',
            denominator: 'fragfetch-cold',
            limit: 0.15,
          },
        ],
        conditions: [{ row: 'fragfetch-warm', label: 'no request sent, every fragment from the cache' }],
      };
    }
  }
}
