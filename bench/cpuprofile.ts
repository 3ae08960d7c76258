/**
 * Where a `node --cpu-prof` run spent its time: the functions with the most self time, and the
 * same summed by where their code lives (fragfetch, undici, Node's internals, V8's own entries).
 *
 *   node --cpu-prof --cpu-prof-dir=prof bin/fragfetch.js fetch manifest.json …
 *   node dist/bench/cpuprofile.js prof/*.cpuprofile [--top 25]
 *
 * Each thread writes its own profile (the main thread, the hash and store workers): give them all,
 * each is summarised apart.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  /** Microseconds between consecutive samples; the first is from `startTime`. */
  timeDeltas: number[];
}

export interface SelfTime {
  name: string;
  where: string;
  ms: number;
}

/** Where a frame's code lives: a short label for grouping. */
export function area(url: string, functionName: string): string {
  if (!url) return functionName.startsWith('(') ? functionName : '(native)';
  if (url.startsWith('node:')) return url.startsWith('node:internal/') ? 'node internals' : url;
  if (url.includes('/node_modules/')) {
    const after = url.slice(url.lastIndexOf('/node_modules/') + '/node_modules/'.length);
    const parts = after.split('/');
    return parts[0]!.startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0]!;
  }
  if (url.includes('/dist/')) return 'fragfetch';
  return path.basename(url);
}

/**
 * Self time per function (`name file:line`), in ms: each sample is charged the time until the next
 * one (what V8's own tools do), so a profile's total is its wall time.
 */
export function selfTimes(profile: CpuProfile): SelfTime[] {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const totals = new Map<string, SelfTime>();
  for (let i = 0; i < profile.samples.length; i++) {
    const node = byId.get(profile.samples[i]!);
    if (!node) continue;
    const next = profile.timeDeltas[i + 1] ?? 0;
    const { functionName, url, lineNumber } = node.callFrame;
    const name = functionName || '(anonymous)';
    const file = url ? `${path.basename(url)}:${lineNumber + 1}` : '';
    const key = `${name} ${file}`;
    const entry = totals.get(key) ?? { name: key.trim(), where: area(url, name), ms: 0 };
    entry.ms += next / 1000;
    totals.set(key, entry);
  }
  return [...totals.values()].sort((a, b) => b.ms - a.ms);
}

export function byArea(times: readonly SelfTime[]): { where: string; ms: number }[] {
  const sums = new Map<string, number>();
  for (const time of times) sums.set(time.where, (sums.get(time.where) ?? 0) + time.ms);
  return [...sums].map(([where, ms]) => ({ where, ms })).sort((a, b) => b.ms - a.ms);
}

function summarise(file: string, top: number): string {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const times = selfTimes(profile);
  const total = times.reduce((sum, time) => sum + time.ms, 0);
  const busy = total - (times.find((time) => time.name === '(idle)')?.ms ?? 0);
  const pct = (ms: number) => `${((100 * ms) / total).toFixed(1).padStart(5)} %`;
  const lines = [
    `${path.basename(file)}: ${(total / 1000).toFixed(2)} s profiled, ${(busy / 1000).toFixed(2)} s not idle`,
    '',
    '  self ms      share  where',
    ...byArea(times).map(({ where, ms }) => `  ${ms.toFixed(0).padStart(7)}  ${pct(ms)}  ${where}`),
    '',
    '  self ms      share  function',
    ...times
      .slice(0, top)
      .map((time) => `  ${time.ms.toFixed(0).padStart(7)}  ${pct(time.ms)}  ${time.name} [${time.where}]`),
  ];
  return lines.join('\n');
}

function main(): number {
  const { values, positionals } = parseArgs({
    options: { top: { type: 'string', default: '25' } },
    allowPositionals: true,
  });
  if (positionals.length === 0) {
    process.stderr.write('usage: node dist/bench/cpuprofile.js <file.cpuprofile>… [--top N]\n');
    return 2;
  }
  const top = Number(values.top);
  process.stdout.write(`${positionals.map((file) => summarise(file, top)).join('\n\n')}\n`);
  return 0;
}

if (process.argv[1] && import.meta.url.endsWith(path.basename(process.argv[1]))) {
  process.exitCode = main();
}
