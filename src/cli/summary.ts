import { Chalk } from 'chalk';
import type { FetchReport } from '../fetch/report.js';
import { formatBytes, formatDuration, formatRate } from '../units.js';

/** The closing summary of `fetch` and `mirror`, as lines; colour only when `color` is set. */
export function formatSummary(report: FetchReport, color: boolean): string {
  const c = new Chalk({ level: color ? 1 : 0 });
  const { fragments, bytes, bandwidth, cache } = report;
  const name = report.manifest.name ?? report.manifest.source;
  const status = report.interrupted
    ? c.yellow('interrupted')
    : report.ok
      ? c.green('done')
      : c.red(`${fragments.failed} failed`);
  const lines = [
    `${c.bold(name)}: ${status}, ${fragments.total} fragment${fragments.total === 1 ? '' : 's'} in ${formatDuration(report.durationMs)}`,
    row(
      'downloaded',
      `${fragments.downloaded} (${formatBytes(bytes.downloaded)}${bytes.resumed > 0 ? `, ${formatBytes(bytes.resumed)} resumed` : ''})`,
    ),
    row(
      'from cache',
      `${fragments.cached + fragments.revalidated} (${formatBytes(bytes.fromCache)})${fragments.revalidated > 0 ? `, ${fragments.revalidated} revalidated` : ''}`,
    ),
    row('failed', fragments.failed > 0 ? c.red(String(fragments.failed)) : '0'),
    row(
      'bandwidth',
      `${formatRate(bandwidth.averageBytesPerSecond)} average, ${formatRate(bandwidth.peakBytesPerSecond)} peak`,
    ),
    row(
      'cache',
      `${(cache.hitRate * 100).toFixed(1)}% hit rate (${cache.hits}/${cache.hits + cache.misses}), ${cache.dir}`,
    ),
    row('requests', `${report.requests}, ${report.retries} retr${report.retries === 1 ? 'y' : 'ies'}`),
  ];
  if (report.timeToCriticalMs !== null)
    lines.push(row('critical', `all ready after ${formatDuration(report.timeToCriticalMs)}`));
  if (report.endpoints.length > 1) {
    for (const endpoint of report.endpoints) {
      lines.push(
        row(
          'endpoint',
          `${endpoint.url}: ${endpoint.requests} requests, ${formatBytes(endpoint.bytes)}, ${endpoint.errors} errors, ${formatRate(endpoint.averageBytesPerSecond)}`,
        ),
      );
    }
  }
  if (report.failures.length > 0) {
    lines.push(c.red('failures:'));
    for (const failure of report.failures) {
      lines.push(`  ${failure.id}  ${failure.url}  ${c.red(failure.error.code)}  ${failure.error.message}`);
    }
  }
  return `${lines.join('\n')}\n`;
}

function row(label: string, value: string): string {
  return `  ${label.padEnd(11)} ${value}`;
}
