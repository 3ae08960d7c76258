import type { ChalkInstance } from 'chalk';
import { CacheStore } from '../cache/store.js';
import { type FetchPlan, planFetch } from '../fetch/engine.js';
import { type Fragment, type Manifest, PRIORITIES, type Priority } from '../manifest/fragment.js';
import { formatBytes, oneLine, plural, widest } from '../units.js';
import { type CliIO, EXIT } from './io.js';
import { JsonList, writeJsonDocument } from './json-stream.js';
import { type PlannedEndpoint, PlanUrls } from './plan-urls.js';
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
  endpoints: PlannedEndpoint[];
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
export function planFor(manifest: Manifest, cacheDir: string, ordered?: Fragment[]): Promise<FetchPlan> {
  return planFetch(manifest, new CacheStore(cacheDir), undefined, ordered);
}

/** A cached fragment and the size of its entry. */
type CachedFragment = [fragment: Fragment, size: number | undefined];

/** The `--dry-run --json` document with its two lists made only as they are written (json-stream.ts). */
export type PlanDocument = Omit<PlanReport, 'download' | 'cached' | 'endpoints'> & {
  download: JsonList<Fragment>;
  cached: JsonList<CachedFragment>;
  endpoints: PlanReport['endpoints'];
};

/**
 * The plan as a document, counted in one pass over each list: no object per fragment (10^6 of them
 * were 200 MB, and a filter per priority a pass each).
 */
export function planDocument(manifest: Manifest, plan: FetchPlan, cacheDir: string): PlanDocument {
  const cached: CachedFragment[] = [];
  // Nothing cached (a new manifest, an empty cache): no lookup per fragment.
  if (plan.cached.size > 0) {
    for (const fragment of plan.ordered) {
      const hit = plan.cached.get(fragment);
      if (hit) cached.push([fragment, hit.size ?? fragment.size]);
    }
  }
  const tallies = new Map<Priority, PriorityPlan>();
  const tally = (priority: Priority) => {
    let found = tallies.get(priority);
    if (!found) {
      found = { priority, toDownload: 0, bytesToDownload: 0, cached: 0, bytesCached: 0 };
      tallies.set(priority, found);
    }
    return found;
  };
  let undeclared = 0;
  for (const fragment of plan.missing) {
    const p = tally(fragment.priority);
    p.toDownload++;
    p.bytesToDownload += fragment.size ?? 0;
    if (fragment.size === undefined) undeclared++;
  }
  let bytesCached = 0;
  for (const [fragment, size] of cached) {
    const p = tally(fragment.priority);
    p.cached++;
    p.bytesCached += size ?? 0;
    bytesCached += size ?? 0;
  }
  const priorities = PRIORITIES.flatMap((priority) => tallies.get(priority) ?? []);
  const urls = new PlanUrls();

  return {
    dryRun: true,
    manifest: { name: manifest.name ?? null, source: manifest.source },
    cache: { dir: cacheDir },
    fragments: { total: plan.ordered.length, toDownload: plan.missing.length, cached: cached.length },
    bytes: { toDownload: plan.missingBytes, cached: bytesCached, undeclared },
    priorities,
    download: new JsonList(plan.missing, (fragment, indent) =>
      plannedJson(fragment, fragment.size, indent, urls),
    ),
    cached: new JsonList(cached, ([fragment, size], indent) => plannedJson(fragment, size, indent, urls)),
    endpoints: urls.endpoints(plan.missing),
  };
}

/** The document with its lists made: the human form's input. */
export function planReport(document: PlanDocument): PlanReport {
  const urls = new PlanUrls();
  return {
    ...document,
    download: document.download.items.map((fragment) => planned(fragment, fragment.size, urls)),
    cached: document.cached.items.map(([fragment, size]) => planned(fragment, size, urls)),
  };
}

function planned(fragment: Fragment, size: number | undefined, urls: PlanUrls): PlannedFragment {
  return {
    id: fragment.id,
    path: fragment.path,
    priority: fragment.priority,
    size: size ?? null,
    url: urls.first(fragment),
  };
}

/** A planned fragment's members as JSON.stringify(…, null, 2) starts them at an indent. */
interface PlannedKeys {
  indent: string;
  id: string;
  path: string;
  priority: string;
  size: string;
  url: string;
  end: string;
  /**
   * For a fragment whose id is its plain path (most of them): from the id's opening quote, from its
   * closing quote to the path's opening one, and from the path's closing quote to the size, by priority.
   */
  plainId: string;
  plainPath: string;
  plainToSize: Record<Priority, string>;
}

let keysAt: PlannedKeys | undefined;

function plannedKeys(indent: string): PlannedKeys {
  if (keysAt?.indent === indent) return keysAt;
  const field = `\n${indent}  `;
  keysAt = {
    indent,
    id: `{${field}"id": `,
    path: `,${field}"path": `,
    priority: `,${field}"priority": `,
    size: `,${field}"size": `,
    url: `,${field}"url": `,
    end: `\n${indent}}`,
    plainId: `{${field}"id": "`,
    plainPath: `",${field}"path": "`,
    plainToSize: Object.fromEntries(
      PRIORITIES.map((p) => [p, `",${field}"priority": ${JSON.stringify(p)},${field}"size": `]),
    ) as Record<Priority, string>,
  };
  return keysAt;
}

const QUOTED_PRIORITY = Object.fromEntries(PRIORITIES.map((p) => [p, JSON.stringify(p)])) as Record<
  Priority,
  string
>;

/** The members from the size to the URL's path, and from it to the end, for the last URL form. */
let urlAt: { keys: PlannedKeys; around: readonly [string, string]; start: string; end: string } | undefined;

/**
 * `planned(fragment, size)` as JSON.stringify(…, null, 2) writes it at `indent`, without the object:
 * a fragment whose path is under base URLs (plain: JSON writes it as it is) in as few pieces as
 * it has parts that vary, each a string made and flattened per fragment; any other with each
 * string quoted once (an id is most often the path).
 */
function plannedJson(fragment: Fragment, size: number | undefined, indent: string, urls: PlanUrls): string {
  const keys = plannedKeys(indent);
  const sized = size === undefined ? 'null' : String(size);
  const around = urls.jsonAround(fragment);
  const { path } = fragment;
  if (around !== undefined && fragment.id === path) {
    if (urlAt?.keys !== keys || urlAt.around !== around) {
      urlAt = { keys, around, start: keys.url + around[0], end: around[1] + keys.end };
    }
    return (
      keys.plainId +
      path +
      keys.plainPath +
      path +
      keys.plainToSize[fragment.priority] +
      sized +
      urlAt.start +
      path +
      urlAt.end
    );
  }
  const quoted = JSON.stringify(path);
  const id = fragment.id === path ? quoted : JSON.stringify(fragment.id);
  return (
    keys.id +
    id +
    keys.path +
    quoted +
    keys.priority +
    QUOTED_PRIORITY[fragment.priority] +
    keys.size +
    sized +
    keys.url +
    urls.quotedFirst(fragment) +
    keys.end
  );
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
  const idWidth = Math.min(
    40,
    widest(all, (f) => f.id.length),
  );
  const sizeOf = (f: PlannedFragment) => (f.size === null ? '?' : formatBytes(f.size));
  const sizeWidth = widest(all, (f) => sizeOf(f).length);
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
export async function printFetchPlan(
  manifest: Manifest,
  plan: FetchPlan,
  options: { cacheDir: string; json?: boolean },
  io: CliIO,
): Promise<number> {
  const document = planDocument(manifest, plan, options.cacheDir);
  if (options.json) await writeJsonDocument(io.stdout, document);
  else io.stdout.write(formatPlan(planReport(document), chalkFor(io.stdout, io.env)));
  return EXIT.ok;
}
