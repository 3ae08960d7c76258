/**
 * The scenarios of issues 7 and 14, each as rows (tool invocations) run alternately in every round,
 * and the targets that compare their medians.
 */
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { type FixtureGroup, formatBytes } from './fixtures.js';
import { manifestScaleScenario } from './manifest-scenario.js';
import { type NetworkScenarioName, networkScenario } from './network-scenarios.js';
import { releaseFiles } from './release.js';
import { aria2Row, catRow, curlRow, fragfetchRow, OPENSSL_SHA256, type Row, SHA256SUM } from './rows.js';
import { curlLabel, fragfetchArgv } from './tools.js';
import { fragfetchVerdict } from './verdict.js';
import { group, rangeSlices, type ScenarioContext, wholeFiles, type Workload } from './workload.js';

export type { Verdict } from './verdict.js';
export type { PreparedRun, RoundContext, Row } from './rows.js';
export type { ScenarioContext } from './workload.js';

// small and https-small last: they create and delete the most files, which slows file creation for
// minutes after (settle.ts).
export const SCENARIO_NAMES = [
  'bulk',
  'https-bulk',
  'throttled',
  'warm',
  'ranges',
  'cat',
  'cat-link',
  'mirrors',
  'limit-rate',
  'edge',
  'manifest-scale',
  'small',
  'https-small',
] as const;
export type ScenarioName = (typeof SCENARIO_NAMES)[number];

/** Per connection, as the issue says: 32 MB/s (decimal), nginx `limit_rate 32000000`. */
export const THROTTLE_BYTES_PER_SECOND = 32_000_000;

/**
 * cat-link's limit per connection, where the link bounds the run rather than the consumer: one object
 * takes at most 16 connections (maxConnectionsPerObject, whatever `-j auto` grows the run's to), so
 * `fetch` runs at ≤ 64 MB/s, under a third of what coreutils' sha256sum hashes here (~250 MB/s).
 */
export const LINK_THROTTLE_BYTES_PER_SECOND = 4_000_000;

/** The slow mirror's limit per connection (mirrors scenario, issue 18): nginx `limit_rate 4000000`. */
export const SLOW_MIRROR_BYTES_PER_SECOND = 4_000_000;

/** Peak RSS target for fragfetch, every scenario. */
export const RSS_LIMIT_KIB = 200 * 1024;

export const FIXTURES_NEEDED: Record<ScenarioName, FixtureGroup[]> = {
  bulk: ['bulk'],
  'https-bulk': ['bulk'],
  small: ['small'],
  'https-small': ['small'],
  throttled: ['big'],
  warm: ['bulk'],
  ranges: ['big'],
  cat: ['big'],
  'cat-link': ['big'],
  mirrors: ['bulk'],
  'limit-rate': ['bulk'],
  edge: ['small'],
  // Its manifest is generated in the run's folder; no file is served.
  'manifest-scale': [],
};

export interface RatioTarget {
  label: string;
  /** median(numerator) / median(denominator) ≤ limit; without a limit, the ratio is only shown. */
  numerator: string;
  denominator: string;
  limit?: number;
}

/**
 * A figure other than time: the median over a row's successful runs of one of their metrics
 * (Verdict.metrics), ≥ `atLeast` or ≤ `atMost`; with neither, only shown.
 */
export interface MetricTarget {
  label: string;
  row: string;
  metric: string;
  unit: '%' | 'MiB/s' | 's' | 'MiB';
  atLeast?: number;
  atMost?: number;
}

export type Target = RatioTarget | MetricTarget;

export interface Scenario {
  name: ScenarioName;
  description: string;
  files: number;
  bytes: number;
  rows: Row[];
  targets: Target[];
  /** Rows whose every run must satisfy an extra condition, with its description. */
  conditions: { row: string; label: string }[];
  /** fragfetch's peak RSS target for this scenario, when not RSS_LIMIT_KIB's. */
  rssLimitMiB?: number;
  /** Rows whose peak RSS is judged on its own too (besides the maximum over fragfetch's rows). */
  rssRows?: string[];
  /** Stops what the scenario started for itself (a relay), once its rounds are over. */
  stop?(): Promise<void>;
}

async function workload(
  ctx: ScenarioContext,
  name: Exclude<ScenarioName, NetworkScenarioName | 'manifest-scale'>,
): Promise<Workload> {
  switch (name) {
    case 'bulk':
    case 'warm':
      return wholeFiles(ctx, 'bulk', group(ctx, 'bulk').files, 'bulk');
    case 'https-bulk':
      return wholeFiles(ctx, 'https-bulk', group(ctx, 'bulk').files, 'bulk', true);
    case 'small':
      return wholeFiles(ctx, 'small', group(ctx, 'small').files, 'small');
    case 'https-small':
      return wholeFiles(ctx, 'https-small', group(ctx, 'small').files, 'small', true);
    case 'throttled':
      return wholeFiles(ctx, 'throttled', group(ctx, 'big').files, 'throttled');
    case 'ranges':
      return rangeSlices(ctx);
    case 'cat':
      return wholeFiles(ctx, 'cat', group(ctx, 'big').files, 'throttled');
    case 'cat-link':
      return wholeFiles(ctx, 'cat-link', group(ctx, 'big').files, 'throttled-link');
  }
}

/** fragfetch against aria2c and curl, each median ratio within its limit. */
export function against(aria2c: number, curl: number): Target[] {
  const x = (limit: number) => (Number.isInteger(limit * 10) ? limit.toFixed(1) : String(limit));
  return [
    {
      label: `fragfetch ≤ ${x(aria2c)} × aria2c`,
      numerator: 'fragfetch',
      denominator: 'aria2c',
      limit: aria2c,
    },
    {
      label: `fragfetch ≤ ${x(curl)} × curl --parallel`,
      numerator: 'fragfetch',
      denominator: 'curl',
      limit: curl,
    },
  ];
}

/** Shown, not judged: whether `--http2` is faster than fragfetch's default over https (issue 14). */
const HTTP2_RATIO: Target = {
  label: 'fragfetch --http2 ÷ fragfetch (no target)',
  numerator: 'fragfetch-http2',
  denominator: 'fragfetch',
};

/** Shown, not judged: whether `-j auto` is slower than the fixed default anywhere (issue 18). */
const AUTO_RATIO: Target = {
  label: 'fragfetch -j auto ÷ fragfetch (no target)',
  numerator: 'fragfetch-auto',
  denominator: 'fragfetch',
};

export async function buildScenario(ctx: ScenarioContext, name: ScenarioName): Promise<Scenario> {
  if (name === 'mirrors' || name === 'edge' || name === 'limit-rate') return networkScenario(ctx, name);
  if (name === 'manifest-scale') return manifestScaleScenario(ctx);
  const load = await workload(ctx, name);
  const count = load.transfers.length;
  const size = load.transfers[0]?.size ?? 0;
  const base = { name, files: count, bytes: load.bytes, conditions: [] as Scenario['conditions'] };
  switch (name) {
    case 'bulk':
    case 'small':
      return {
        ...base,
        description: `${count} × ${formatBytes(size)} (${formatBytes(load.bytes)})`,
        rows: [
          fragfetchRow(ctx, load, count),
          fragfetchRow(ctx, load, count, { id: 'fragfetch-auto', args: ['-j', 'auto'] }),
          aria2Row(ctx, load),
          curlRow(ctx, load),
        ],
        targets: [...(name === 'bulk' ? against(1.0, 1.25) : against(0.5, 2.5)), AUTO_RATIO],
      };
    case 'https-bulk':
    case 'https-small':
      return {
        ...base,
        description: `${count} × ${formatBytes(size)} (${formatBytes(load.bytes)}) over https (TLS 1.3, HTTP/2 offered)`,
        rows: [
          fragfetchRow(ctx, load, count),
          fragfetchRow(ctx, load, count, { http2: true }),
          fragfetchRow(ctx, load, count, { id: 'fragfetch-auto', args: ['-j', 'auto'] }),
          aria2Row(ctx, load),
          curlRow(ctx, load),
        ],
        targets: [
          ...(name === 'https-bulk' ? against(1.0, 1.25) : against(0.5, 2.0)),
          HTTP2_RATIO,
          AUTO_RATIO,
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
    case 'cat':
    case 'cat-link': {
      const rate = name === 'cat' ? THROTTLE_BYTES_PER_SECOND : LINK_THROTTLE_BYTES_PER_SECOND;
      const sri = group(ctx, 'big').files[0]!.sri;
      return {
        ...base,
        description: `fragfetch cat of one ${formatBytes(load.bytes)} object into sha256sum and into openssl, the server limiting each connection to ${rate / 1e6} MB/s`,
        rows: [
          fragfetchRow(ctx, load, count),
          ...[SHA256SUM, OPENSSL_SHA256].map((consumer) => catRow(ctx, load, sri, consumer)),
        ],
        targets: [
          {
            label: 'fragfetch cat piped to sha256sum ≤ 1.2 × fetch',
            numerator: SHA256SUM.id,
            denominator: 'fragfetch',
            limit: 1.2,
          },
          // The same pipe into a consumer that is not the bound: what cat itself costs over fetch.
          {
            label: 'fragfetch cat piped to openssl dgst -sha256 ≤ 1.2 × fetch',
            numerator: OPENSSL_SHA256.id,
            denominator: 'fragfetch',
            limit: 1.2,
          },
        ],
        conditions: [SHA256SUM, OPENSSL_SHA256].map((consumer) => ({
          row: consumer.id,
          label: `the sha256 of what cat wrote into ${consumer.label} is the object’s`,
        })),
        rssRows: [SHA256SUM.id, OPENSSL_SHA256.id],
      };
    }
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
          release: async () => {}, // the warm run needs it
          cleanup: async () => {},
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
            release: async () => {
              await releaseFiles(cache);
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
