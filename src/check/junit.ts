import type { CheckReport, Finding, ProbeReport } from './types.js';

export interface JunitOptions {
  /** When the check started; written without a zone, as the JUnit schema's xs:dateTime pattern wants. */
  timestamp: Date;
  hostname: string;
}

/**
 * The JUnit XML report CI systems read (Jenkins, GitLab, GitHub Actions' test reporters): one
 * `<testsuite>` per endpoint, one `<testcase>` per fragment, a `<failure>` with the reason when the
 * probe failed. Warnings go to the testcase's `<system-out>`, or become failures with `--strict`,
 * so that the XML and the exit code always agree.
 */
export function renderJunit(report: CheckReport, options: JunitOptions): string {
  const failing = (f: Finding) => f.severity === 'failure' || report.strict;
  const isFailed = (p: ProbeReport) => p.findings.some(failing);
  const seconds = (ms: number) => (ms / 1000).toFixed(3);
  const timestamp = options.timestamp.toISOString().slice(0, 19);
  const name = report.manifest.name ?? report.manifest.source;

  const suites = report.endpoints.map((endpoint) => {
    const probes = report.probes.filter((p) => p.endpoint === endpoint.url);
    const time = probes.reduce((sum, p) => sum + p.durationMs, 0);
    const cases = probes.map((probe) => {
      const failures = probe.findings.filter(failing);
      const notes = probe.findings.filter((f) => !failing(f));
      const open = `    <testcase classname="${attr(endpoint.url)}" name="${attr(probe.id)}" time="${seconds(probe.durationMs)}"`;
      if (failures.length === 0 && notes.length === 0) return `${open}/>`;
      const lines = [`${open}>`];
      const first = failures[0];
      if (first !== undefined) {
        const details = [...failures.map(line), `url: ${probe.url}`, ...probeFacts(probe)];
        lines.push(
          `      <failure message="${attr(first.message)}" type="${attr(first.code)}">${text(details.join('\n'))}</failure>`,
        );
      }
      if (notes.length > 0) lines.push(`      <system-out>${text(notes.map(line).join('\n'))}</system-out>`);
      lines.push('    </testcase>');
      return lines.join('\n');
    });
    const failed = probes.filter(isFailed).length;
    return [
      `  <testsuite name="${attr(endpoint.url)}" tests="${probes.length}" failures="${failed}" errors="0" skipped="0" time="${seconds(time)}" timestamp="${timestamp}" hostname="${attr(options.hostname)}">`,
      ...cases,
      '  </testsuite>',
    ].join('\n');
  });

  const failed = report.probes.filter(isFailed).length;
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="${attr(`fragfetch check ${name}`)}" tests="${report.probes.length}" failures="${failed}" errors="0" time="${seconds(report.durationMs)}">`,
    ...suites,
    '</testsuites>',
    '',
  ].join('\n');
}

function line(finding: Finding): string {
  return `${finding.severity === 'failure' ? 'FAIL' : 'WARN'} ${finding.code}: ${finding.message}`;
}

function probeFacts(probe: ProbeReport): string[] {
  const facts = [`attempts: ${probe.attempts}`];
  if (probe.status !== null) facts.push(`status: ${probe.status} (${probe.method})`);
  if (probe.objectLength !== null) facts.push(`object length: ${probe.objectLength}`);
  return facts;
}

/**
 * XML 1.0 forbids most control characters and lone surrogates even when escaped, and a server's
 * message or a fragment id could hold one: they become U+FFFD rather than a file no CI can parse.
 */
const NOT_XML =
  // eslint-disable-next-line no-control-regex -- these are exactly the characters XML forbids
  /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

const TEXT_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;' };
/** In an attribute, quotes end it and a parser turns raw tabs and newlines into spaces. */
const ATTR_ESCAPES: Record<string, string> = {
  ...TEXT_ESCAPES,
  '"': '&quot;',
  "'": '&apos;',
  '\t': '&#9;',
  '\n': '&#10;',
  '\r': '&#13;',
};

export function text(value: string): string {
  return value.replace(NOT_XML, '\uFFFD').replace(/[&<>]/g, (c) => TEXT_ESCAPES[c]!);
}

export function attr(value: string): string {
  return value.replace(NOT_XML, '\uFFFD').replace(/[&<>"'\t\n\r]/g, (c) => ATTR_ESCAPES[c]!);
}
