/**
 * The scenarios of endpoints that adapt (issue 18), judged on the link rather than on the disk:
 *
 * - `mirrors`: two https mirrors of the same files, the slow one (4 MB/s per connection) listed
 *   first; the fast one's share of the bytes, from fragfetch's `endpoints[]`.
 * - `edge`: 1000 small objects from an edge 40 ms away (a TCP relay holding each chunk 20 ms per
 *   direction in front of nginx's https port), fragfetch against curl and aria2c.
 * - `limit-rate`: `--limit-rate` over ~10 s of an unthrottled https origin; the achieved rate
 *   against the asked one, curl's and aria2c's caps beside it.
 */
import { startRelay } from '../test/support/relay.js';
import { formatBytes } from './fixtures.js';
import { aria2Row, curlRow, fragfetchRow, type RunMetrics } from './rows.js';
import { against, type Scenario, type ScenarioName, SLOW_MIRROR_BYTES_PER_SECOND } from './scenarios.js';
import type { FragfetchJson } from './verdict.js';
import { group, mirroredFiles, type ScenarioContext, wholeFiles } from './workload.js';

export type NetworkScenarioName = Extract<ScenarioName, 'mirrors' | 'edge' | 'limit-rate'>;

const MiB = 1024 * 1024;

/**
 * 32 of bulk's 16 MiB files (512 MiB): `--endpoint-order listed` sends them all to the slow mirror,
 * 16 connections × 4 MB/s = 64 MB/s, ~8.4 s; the fast one alone takes 1–3 s here.
 */
const MIRROR_FILES = 32;

/** Per direction: 40 ms of round trip. */
const EDGE_DELAY_MS = 20;
const EDGE_FILES = 1000;

/** 13 of bulk's 16 MiB files (208 MiB) at 20 MiB/s: 10.4 s. */
const LIMIT_RATE = 20 * MiB;
const LIMIT_RATE_FILES = 13;

/** The fast mirror's share of the bytes fragfetch received, in percent (`endpoints[]` are origins). */
export function fastShare(fast: string): (report: FragfetchJson) => Record<string, number> {
  const origin = new URL(fast).origin;
  return (report) => {
    let total = 0;
    let onFast = 0;
    for (const endpoint of report.endpoints) {
      total += endpoint.bytes;
      if (new URL(endpoint.url).origin === origin) onFast += endpoint.bytes;
    }
    return { fastSharePercent: total === 0 ? 0 : (100 * onFast) / total };
  };
}

/** The achieved rate in MiB/s and its distance from `LIMIT_RATE` in percent. */
function rate(bytes: number, seconds: number): Record<string, number> {
  const perSecond = seconds > 0 ? bytes / seconds : 0;
  return {
    rateMiBps: perSecond / MiB,
    rateErrorPercent: (100 * Math.abs(perSecond - LIMIT_RATE)) / LIMIT_RATE,
  };
}

export async function networkScenario(ctx: ScenarioContext, name: NetworkScenarioName): Promise<Scenario> {
  const base = { name, conditions: [] as Scenario['conditions'] };
  switch (name) {
    case 'mirrors': {
      const files = group(ctx, 'bulk').files.slice(0, MIRROR_FILES);
      const load = await mirroredFiles(ctx, name, files, 'bulk', [ctx.slowTlsOrigin, ctx.tlsOrigin]);
      const metrics = fastShare(ctx.tlsOrigin);
      const count = files.length;
      return {
        ...base,
        files: count,
        bytes: load.bytes,
        description: `${count} × ${formatBytes(files[0]!.size)} (${formatBytes(load.bytes)}) over https from two mirrors, the first listed limiting each connection to ${SLOW_MIRROR_BYTES_PER_SECOND / 1e6} MB/s, the second not`,
        rows: [
          fragfetchRow(ctx, load, count, { metrics }),
          fragfetchRow(ctx, load, count, {
            id: 'fragfetch-listed',
            args: ['--endpoint-order', 'listed'],
            metrics,
          }),
        ],
        targets: [
          {
            label: 'fragfetch: the fast mirror’s share of the bytes ≥ 70 %',
            row: 'fragfetch',
            metric: 'fastSharePercent',
            unit: '%',
            atLeast: 70,
          },
          {
            label: '--endpoint-order listed: the fast mirror’s share (no target)',
            row: 'fragfetch-listed',
            metric: 'fastSharePercent',
            unit: '%',
          },
          {
            label: 'fragfetch ÷ fragfetch --endpoint-order listed (no target)',
            numerator: 'fragfetch',
            denominator: 'fragfetch-listed',
          },
        ],
      };
    }
    case 'edge': {
      const files = group(ctx, 'small').files.slice(0, EDGE_FILES);
      const relay = await startRelay({
        target: { port: Number(new URL(ctx.tlsOrigin).port) },
        delayMs: EDGE_DELAY_MS,
      });
      try {
        const load = await mirroredFiles(ctx, name, files, 'small', [relay.origin('https')]);
        const count = files.length;
        return {
          ...base,
          files: count,
          bytes: load.bytes,
          description: `${count} × ${formatBytes(files[0]!.size)} (${formatBytes(load.bytes)}) over https from an edge ${2 * EDGE_DELAY_MS} ms away (a relay holding each chunk ${EDGE_DELAY_MS} ms per direction); 16 requests in flight cannot go below ${count} / 16 × ${2 * EDGE_DELAY_MS} ms = ${((count / 16) * 2 * EDGE_DELAY_MS) / 1000} s`,
          rows: [
            fragfetchRow(ctx, load, count),
            fragfetchRow(ctx, load, count, { id: 'fragfetch-j64', args: ['-j', '64'] }),
            fragfetchRow(ctx, load, count, { id: 'fragfetch-auto', args: ['-j', 'auto'] }),
            fragfetchRow(ctx, load, count, { id: 'fragfetch-h2', args: ['--http2'] }),
            aria2Row(ctx, load),
            curlRow(ctx, load),
          ],
          targets: [
            ...against(0.6, 0.6),
            {
              label: 'fragfetch -j 64 ÷ fragfetch (no target)',
              numerator: 'fragfetch-j64',
              denominator: 'fragfetch',
            },
            {
              label: 'fragfetch -j auto ÷ curl',
              numerator: 'fragfetch-auto',
              denominator: 'curl',
              limit: 0.6,
            },
            { label: 'fragfetch --http2 ÷ curl (no target)', numerator: 'fragfetch-h2', denominator: 'curl' },
          ],
          stop: () => relay.close(),
        };
      } catch (error) {
        await relay.close();
        throw error;
      }
    }
    case 'limit-rate': {
      const files = group(ctx, 'bulk').files.slice(0, LIMIT_RATE_FILES);
      const load = await wholeFiles(ctx, name, files, 'bulk', true);
      const count = files.length;
      const wall: RunMetrics = (result) => rate(load.bytes, result.seconds);
      const mib = LIMIT_RATE / MiB;
      return {
        ...base,
        files: count,
        bytes: load.bytes,
        description: `${count} × ${formatBytes(files[0]!.size)} (${formatBytes(load.bytes)}) over https from an unthrottled origin, capped at ${mib} MiB/s (${(load.bytes / LIMIT_RATE).toFixed(1)} s); fragfetch's rate from its report (bytes ÷ durationMs), the others' from their wall time`,
        rows: [
          fragfetchRow(ctx, load, count, {
            args: ['--limit-rate', `${mib}MiB`],
            metrics: (report) => rate(report.bytes.downloaded, report.durationMs / 1000),
          }),
          // curl's --limit-rate caps each transfer: one at a time, it caps the whole run.
          curlRow(ctx, load, `curl --limit-rate ${mib}M (one transfer at a time)`, {
            sequential: true,
            perTransfer: [`limit-rate = "${mib}M"`],
            metrics: wall,
          }),
          aria2Row(ctx, load, undefined, {
            args: [`--max-overall-download-limit=${mib}M`],
            metrics: wall,
          }),
        ],
        targets: [
          {
            label: `fragfetch: achieved rate within 10 % of ${mib} MiB/s`,
            row: 'fragfetch',
            metric: 'rateErrorPercent',
            unit: '%',
            atMost: 10,
          },
          ...(['fragfetch', 'curl', 'aria2c'] as const).map((row) => ({
            label: `${row}: achieved rate (no target)`,
            row,
            metric: 'rateMiBps',
            unit: 'MiB/s' as const,
          })),
        ],
      };
    }
  }
}
