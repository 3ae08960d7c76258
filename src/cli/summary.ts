import { Chalk, type ChalkInstance } from 'chalk';
import { displayUrl } from '../errors.js';
import type { FetchReport } from '../fetch/report.js';
import { formatBytes, formatDuration, formatRate, plural } from '../units.js';

/**
 * The closing summary of `fetch` and `mirror`:
 *
 *   tiny-llm-q4: done, 40 fragments in 2.4 s
 *     fragments   35 downloaded, 5 cached, 0 revalidated, 0 failed
 *     bytes       250.0 MiB downloaded, 250.1 MiB received, 12.0 MiB resumed, 24.0 MiB from cache
 *     bandwidth   104.2 MiB/s average, 130.0 MiB/s peak
 *     cache       12.5% hit rate (5 of 40) in /home/me/.cache/fragfetch
 *     requests    52, 3 retries
 *     time        2.4 s in all, critical fragments ready after 0.8 s
 *     endpoint    https://cdn-eu.example.com: 30 requests, 150.0 MiB, 0 errors, 60.0 MiB/s average, 70.0 MiB/s peak
 *     endpoint    https://cdn-us.example.com: 22 requests, 100.0 MiB, 2 errors, 40.0 MiB/s average, 41.0 MiB/s peak, backed off
 *   2 failed:
 *     layer.3  https://cdn-eu.example.com/model.bin  EHTTP  HTTP 404 Not Found
 *
 * Failures come last, one line each, so they are what stays on screen. `color` is a chalk instance
 * (from terminal.ts) or a plain yes/no.
 */
export function formatSummary(report: FetchReport, color: ChalkInstance | boolean): string {
  const c = typeof color === 'boolean' ? new Chalk({ level: color ? 1 : 0 }) : color;
  const { fragments, bytes, bandwidth, cache } = report;
  const name = report.manifest.name ?? report.manifest.source;
  const status = report.interrupted
    ? c.yellow('interrupted')
    : report.ok
      ? c.green('done')
      : c.red(`${fragments.failed} failed`);
  const lines = [
    `${c.bold(name)}: ${status}, ${plural(fragments.total, 'fragment')} in ${formatDuration(report.durationMs)}`,
    row(
      c,
      'fragments',
      [
        `${fragments.downloaded} downloaded`,
        `${fragments.cached} cached`,
        `${fragments.revalidated} revalidated`,
        fragments.failed > 0 ? c.red(`${fragments.failed} failed`) : '0 failed',
      ].join(', '),
    ),
    row(
      c,
      'bytes',
      `${formatBytes(bytes.downloaded)} downloaded, ${formatBytes(bytes.received)} received, ${formatBytes(bytes.resumed)} resumed, ${formatBytes(bytes.fromCache)} from cache`,
    ),
    row(
      c,
      'bandwidth',
      `${formatRate(bandwidth.averageBytesPerSecond)} average, ${formatRate(bandwidth.peakBytesPerSecond)} peak`,
    ),
    row(c, 'cache', `${hitRate(cache)} in ${cache.dir}`),
    row(c, 'requests', `${report.requests}, ${plural(report.retries, 'retry')}`),
    row(c, 'time', `${formatDuration(report.durationMs)} in all${criticalTime(report, c)}`),
  ];
  if (report.endpoints.length > 1) {
    for (const endpoint of report.endpoints) {
      const errors = endpoint.errors > 0 ? c.yellow(plural(endpoint.errors, 'error')) : '0 errors';
      lines.push(
        row(
          c,
          'endpoint',
          `${endpoint.url}: ${plural(endpoint.requests, 'request')}, ${formatBytes(endpoint.bytes)}, ${errors}, ${formatRate(endpoint.averageBytesPerSecond)} average, ${formatRate(endpoint.peakBytesPerSecond)} peak${stateOf(endpoint, c)}`,
        ),
      );
    }
  }
  if (report.failures.length > 0) {
    lines.push(c.red(`${report.failures.length} failed:`));
    for (const failure of report.failures) {
      const url = displayUrl(failure.url);
      lines.push(
        `  ${failure.id}  ${url}  ${c.red(failure.error.code)}  ${failureMessage(failure.error.message, url)}`,
      );
    }
  }
  return `${lines.join('\n')}\n`;
}

/**
 * One line whatever the message holds, without the `GET <url>: ` the engine's messages start with:
 * the URL is on the line already.
 */
function failureMessage(message: string, url: string): string {
  const oneLine = message.replace(/\s+/g, ' ').trim();
  const prefix = /^[A-Z]+ (\S+): /.exec(oneLine);
  return prefix && displayUrl(prefix[1]!) === url ? oneLine.slice(prefix[0].length) : oneLine;
}

/** An endpoint's state at the end of the run, when it is not healthy. */
function stateOf(endpoint: FetchReport['endpoints'][number], c: ChalkInstance): string {
  if (endpoint.state === 'healthy') return '';
  return `, ${endpoint.state === 'failed' ? c.red('failed') : c.yellow('backed off')}`;
}

/** `12.5% hit rate (5 of 40)`; a run that looked nothing up (a mirror already up to date) has no rate. */
function hitRate(cache: FetchReport['cache']): string {
  const lookups = cache.hits + cache.misses;
  if (lookups === 0) return 'no lookups (nothing to fetch)';
  return `${(cache.hitRate * 100).toFixed(1)}% hit rate (${cache.hits} of ${lookups})`;
}

/** The critical set is ready only when every critical fragment is: one failure means it never was. */
function criticalTime(report: FetchReport, c: ChalkInstance): string {
  if (report.fragments.criticalFailed > 0) {
    return `, ${c.red(`critical fragments failed (${report.fragments.criticalFailed})`)}`;
  }
  if (report.timeToCriticalMs === null) return '';
  return `, critical fragments ready after ${formatDuration(report.timeToCriticalMs)}`;
}

function row(c: ChalkInstance, label: string, value: string): string {
  return `  ${c.dim(label.padEnd(11))} ${value}`;
}
