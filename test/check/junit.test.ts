import { describe, expect, it } from 'vitest';
import { attr, renderJunit, text } from '../../src/check/junit.js';
import { buildReport } from '../../src/check/report.js';
import type { Finding, Observation, ProbeResult } from '../../src/check/types.js';
import { parseManifest } from '../../src/manifest/parse.js';
import { junitProblems, parseXml } from './xml.js';

const NASTY = `a<b>&"c"'d'\t\n\r\u0001\uFFFF\uD800e`;

const manifest = parseManifest(
  {
    version: 1,
    name: 'm & <n>',
    baseUrls: ['http://one.test/m/', 'http://two.test/m/'],
    fragments: [
      { id: 'good', path: 'a.bin', size: 1, priority: 'critical' },
      { id: NASTY, path: 'b.bin', size: 1 },
      { id: 'warned', path: 'c.bin', size: 1 },
    ],
  },
  'm.json',
);

function result(index: number, endpoint: 0 | 1, findings: Finding[]): ProbeResult {
  const fragment = manifest.fragments[index]!;
  const observation: Observation = {
    method: 'GET',
    status: findings.length === 0 ? 206 : 404,
    ttfbMs: 10 + index,
    durationMs: 12,
    attempts: 1,
    bytesRead: 1,
  };
  const url = fragment.urls[endpoint]!;
  return {
    fragment,
    endpoint: endpoint === 0 ? 'http://one.test/m/' : 'http://two.test/m/',
    url,
    observation,
    findings,
    skipped: false,
  };
}

const failure: Finding = { severity: 'failure', code: 'EHTTP', message: `HTTP 404 ${NASTY}`, status: 404 };
const warning: Finding = { severity: 'warning', code: 'WRANGE', message: 'range ignored' };

function report(strict = false) {
  const results = [
    result(0, 0, []),
    result(0, 1, []),
    result(1, 0, []),
    result(1, 1, [failure]),
    result(2, 0, [warning]),
    result(2, 1, []),
  ];
  return buildReport(manifest, results, {
    fragments: 3,
    strict,
    deep: false,
    interrupted: false,
    durationMs: 1234,
  });
}

const options = { timestamp: new Date('2026-11-22T22:00:00.123Z'), hostname: 'ci<1>' };

describe('renderJunit', () => {
  it('writes one testsuite per endpoint and one testcase per fragment, in the JUnit schema shape', () => {
    const xml = renderJunit(report(), options);
    const root = parseXml(xml);
    expect(junitProblems(root)).toEqual([]);
    expect(root.attributes).toMatchObject({ tests: '6', failures: '1', errors: '0', time: '1.234' });
    expect(root.children.map((s) => [s.attributes.name, s.attributes.tests, s.attributes.failures])).toEqual([
      ['http://one.test/m/', '3', '0'],
      ['http://two.test/m/', '3', '1'],
    ]);
    const suite = root.children[0]!;
    expect(suite.attributes).toMatchObject({
      timestamp: '2026-11-22T22:00:00',
      hostname: 'ci<1>',
      time: '0.036',
    });
    expect(suite.children.map((c) => c.attributes.classname)).toEqual(Array(3).fill('http://one.test/m/'));
  });

  it('escapes what a fragment id or a server message may hold, and replaces what XML cannot carry', () => {
    const root = parseXml(renderJunit(report(), options));
    const failed = root.children[1]!.children[1]!;
    // Attribute values keep tabs and newlines (as character references); the forbidden become U+FFFD.
    expect(failed.attributes.name).toBe(`a<b>&"c"'d'\t\n\r\uFFFD\uFFFD\uFFFDe`);
    const element = failed.children[0]!;
    expect(element.name).toBe('failure');
    expect(element.attributes).toMatchObject({
      type: 'EHTTP',
      message: `HTTP 404 a<b>&"c"'d'\t\n\r\uFFFD\uFFFD\uFFFDe`,
    });
    expect(element.text).toContain('url: http://two.test/m/b.bin');
    expect(element.text).toContain('status: 404 (GET)');
  });

  it('puts warnings in system-out, or makes them failures with --strict (as the exit code does)', () => {
    const lenient = parseXml(renderJunit(report(), options)).children[0]!.children[2]!;
    expect(lenient.children.map((c) => c.name)).toEqual(['system-out']);
    expect(lenient.children[0]!.text).toBe('WARN WRANGE: range ignored');
    const strict = parseXml(renderJunit(report(true), options));
    expect(junitProblems(strict)).toEqual([]);
    expect(strict.attributes.failures).toBe('2');
    const testcase = strict.children[0]!.children[2]!;
    expect(testcase.children[0]).toMatchObject({ name: 'failure', attributes: { type: 'WRANGE' } });
  });
});

describe('XML escaping', () => {
  it('escapes markup in text and quotes and white space in attributes', () => {
    expect(text('a<b>&c"\n')).toBe('a&lt;b&gt;&amp;c"\n');
    expect(attr(`"'<&>\t\n\r`)).toBe('&quot;&apos;&lt;&amp;&gt;&#9;&#10;&#13;');
  });
  it('replaces control characters and lone surrogates, keeps pairs', () => {
    expect(text('\u0000\u001F\uDC00x\uD83D\uDE00')).toBe('\uFFFD\uFFFD\uFFFDx\uD83D\uDE00');
  });
});

describe('the test XML reader (so that its verdicts mean something)', () => {
  it.each([
    ['<a>&</a>', /bare &/],
    ['<a>&nbsp;</a>', /unknown entity/],
    ['<a b="<"/>', /< in an attribute/],
    ['<a><b></a></b>', /mismatched/],
    ['<a b="1" b="2"/>', /duplicate/],
    ['<a>\u0001</a>', /forbidden/],
    ['<a>&#1;</a>', /forbidden/],
    ['<a/><b/>', /after the root/],
  ])('rejects %j', (xml, why) => {
    expect(() => parseXml(xml)).toThrow(why);
  });
  it('flags counts that disagree with the content', () => {
    const root = parseXml(
      '<testsuites tests="1" failures="0" errors="0" time="0"><testsuite name="s" tests="1" failures="0" errors="0" time="0" timestamp="2026-01-01T00:00:00" hostname="h"><testcase name="t" classname="c" time="0"><failure message="m" type="t"/></testcase></testsuite></testsuites>',
    );
    expect(junitProblems(root)).toEqual([
      '<testsuite name="s"> says failures=0, has 1',
      '<testsuites> says failures=0, has 1',
    ]);
  });
});
