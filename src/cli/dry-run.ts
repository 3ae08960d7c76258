import type { ChalkInstance } from 'chalk';
import { CacheStore } from '../cache/store.js';
import { displayUrl } from '../errors.js';
import { type FetchPlan, planFetch } from '../fetch/engine.js';
import { endpointOf } from '../fetch/stats.js';
import { type Fragment, type Manifest, PRIORITIES, type Priority } from '../manifest/fragment.js';
import { formatBytes, oneLine, plural } from '../units.js';
import { type CliIO, EXIT } from './io.js';
import { writeJson } from './output.js';
import { chalkFor } from './terminal.js';

/** The `--dry-run --json` document: what a run would download, what it would take from the cache, from where. */
export interface PlanReport {
  dryRun: true;
  manifest: { name: string | null; source: string };
  cache: { dir: string };
  fragments: { total: number; toDownload: number; cached: number };
  /** `toDownload` counts declared sizes only; `undeclared` fragments have no size until the server tells. */
  bytes: { toDownload: number; cached: number; undeclared: number };
  priorities: PriorityPlan[];
  download: PlannedFragment[];
  cached: PlannedFragment[];
  /** Origins the download would use: `primary` fragments are asked there first, `fallback` ones on failover. */
  endpoints: { url: string; primary: number; fallback: number }[];
}

export interface PriorityPlan {
  priority: Priority;
  toDownload: number;
  bytesToDownload: number;
  cached: number;
  bytesCached: number;
}

export interface PlannedFragment {
  id: string;
  path: string;
  priority: Priority;
  size: number | null;
  /** Where it would be (or was) fetched from first. */
  url: string;
}

/** What the cache already holds of a manifest: index reads and stats only, no request, nothing written. */
export function planFor(manifest: Manifest, cacheDir: string): Promise<FetchPlan> {
  return planFetch(manifest, new CacheStore(cacheDir));
}

export function planReport(manifest: Manifest, plan: FetchPlan, cacheDir: string): PlanReport {
  const planned = (fragment: Fragment, size: number | undefined): PlannedFragment => ({
    id: fragment.id,
    path: fragment.path,
    priority: fragment.priority,
    size: size ?? null,
    url: displayUrl(fragment.urls[0] ?? ''),
  });
  const download = plan.missing.map((fragment) => planned(fragment, fragment.size));
  const cached = plan.ordered
    .filter((fragment) => plan.cached.has(fragment))
    .map((fragment) => planned(fragment, plan.cached.get(fragment)?.size ?? fragment.size));

  const priorities = PRIORITIES.map((priority) => {
    const of = (list: PlannedFragment[]) => list.filter((f) => f.priority === priority);
    const sum = (list: PlannedFragment[]) => list.reduce((total, f) => total + (f.size ?? 0), 0);
    const down = of(download);
    const hit = of(cached);
    return {
      priority,
      toDownload: down.length,
      bytesToDownload: sum(down),
      cached: hit.length,
      bytesCached: sum(hit),
    };
  }).filter((p) => p.toDownload + p.cached > 0);

  const endpoints = new Map<string, { url: string; primary: number; fallback: number }>();
  for (const fragment of plan.missing) {
    // Counted once per endpoint (the report's endpoints are origins, and two base URLs may share one).
    const origins = [...new Set(fragment.urls.map((url) => displayUrl(endpointOf(url))))];
    origins.forEach((origin, i) => {
      const tally = endpoints.get(origin) ?? { url: origin, primary: 0, fallback: 0 };
      if (i === 0) tally.primary++;
      else tally.fallback++;
      endpoints.set(origin, tally);
    });
  }

  return {
    dryRun: true,
    manifest: { name: manifest.name ?? null, source: manifest.source },
    cache: { dir: cacheDir },
    fragments: { total: plan.ordered.length, toDownload: download.length, cached: cached.length },
    bytes: {
      toDownload: plan.missingBytes,
      cached: cached.reduce((total, f) => total + (f.size ?? 0), 0),
      undeclared: download.filter((f) => f.size === null).length,
    },
    priorities,
    download,
    cached,
    endpoints: [...endpoints.values()],
  };
}

/**
 * The human form, in download order:
 *
 *   tiny-llm-q4: dry run, nothing downloaded, nothing changed
 *   would download 3 of 4 fragments, 5.0 MiB; 1 cached (1.0 MiB) in /home/me/.cache/fragfetch
 *
 *   critical: 1 to download (1.0 MiB), 1 cached (1.0 MiB)
 *     download  embed       1.0 MiB  https://cdn-eu.example.com/tiny/embed.bin
 *     cached    tokenizer   1.0 MiB
 *   ...
 *   endpoints:
 *     https://cdn-eu.example.com  first choice for 3 fragments
 *     https://cdn-us.example.com  fallback for 3 fragments
 */
export function formatPlan(report: PlanReport, c: ChalkInstance): string {
  const name = oneLine(report.manifest.name ?? report.manifest.source);
  const fragments = (n: number) => plural(n, 'fragment');
  const undeclared = report.bytes.undeclared > 0 ? ` + ${report.bytes.undeclared} of undeclared size` : '';
  const lines = [
    `${c.bold(name)}: dry run, nothing downloaded, nothing changed`,
    `would download ${report.fragments.toDownload} of ${fragments(report.fragments.total)}, ${formatBytes(report.bytes.toDownload)}${undeclared}; ` +
      `${report.fragments.cached} cached (${formatBytes(report.bytes.cached)}) in ${report.cache.dir}`,
  ];
  const all = [...report.download, ...report.cached];
  const idWidth = Math.min(40, Math.max(0, ...all.map((f) => f.id.length)));
  const sizeOf = (f: PlannedFragment) => (f.size === null ? '?' : formatBytes(f.size));
  const sizeWidth = Math.max(0, ...all.map((f) => sizeOf(f).length));
  const line = (what: string, f: PlannedFragment, url: string) =>
    `    ${what.padEnd(8)}  ${f.id.padEnd(idWidth)}  ${sizeOf(f).padStart(sizeWidth)}${url ? `  ${url}` : ''}`.trimEnd();
  for (const p of report.priorities) {
    lines.push(
      '',
      `  ${c.bold(p.priority)}: ${p.toDownload} to download (${formatBytes(p.bytesToDownload)}), ${p.cached} cached (${formatBytes(p.bytesCached)})`,
    );
    for (const f of report.download) if (f.priority === p.priority) lines.push(line('download', f, f.url));
    for (const f of report.cached) if (f.priority === p.priority) lines.push(c.dim(line('cached', f, '')));
  }
  lines.push('');
  if (report.endpoints.length === 0)
    lines.push('endpoints: none, every fragment is cached: no request would be sent');
  else {
    lines.push('endpoints:');
    const urlWidth = Math.max(...report.endpoints.map((e) => e.url.length));
    for (const e of report.endpoints) {
      const roles = [
        e.primary > 0 ? `first choice for ${fragments(e.primary)}` : '',
        e.fallback > 0 ? `fallback for ${fragments(e.fallback)}` : '',
      ].filter(Boolean);
      lines.push(`  ${e.url.padEnd(urlWidth)}  ${roles.join(', ')}`);
    }
  }
  return `${lines.join('\n')}\n`;
}

/**
 * Prints the plan of a fetch (`fetch --dry-run`, and the download part of `mirror --dry-run`): one
 * JSON document with `json`, else the human form on stdout. Returns the exit code.
 */
export function printFetchPlan(
  manifest: Manifest,
  plan: FetchPlan,
  options: { cacheDir: string; json?: boolean },
  io: CliIO,
): number {
  const report = planReport(manifest, plan, options.cacheDir);
  if (options.json) writeJson(io, report);
  else io.stdout.write(formatPlan(report, chalkFor(io.stdout, io.env)));
  return EXIT.ok;
}
