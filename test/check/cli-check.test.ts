import { readFile, writeFile } from 'node:fs/promises';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startCdn, type TestCdn } from '../support/cdn.js';
import { runCli, spawnCli } from '../support/cli.js';
import { randomBytesSeeded, sriOf, tempDir } from '../support/fixtures.js';
import { closedPort } from './support.js';
import { junitProblems, parseXml } from './xml.js';

let cdn: TestCdn;
let dir: string;

beforeEach(async () => {
  cdn = await startCdn();
  dir = await tempDir('fragfetch-check-');
});
afterEach(async () => {
  await cdn.close();
  await rm(dir, { recursive: true, force: true });
});

const BODY = randomBytesSeeded(10_000, 'cli-check');

async function manifestFile(
  fragments: Record<string, unknown>[],
  baseUrls = [cdn.url('/m/')],
): Promise<string> {
  cdn.set('/m/a.bin', BODY);
  const file = join(dir, 'manifest.json');
  await writeFile(file, JSON.stringify({ version: 1, name: 'cli', baseUrls, fragments }));
  return file;
}

const good = { id: 'a', path: 'a.bin', size: BODY.length, integrity: sriOf(BODY), priority: 'critical' };

describe('fragfetch check (CLI)', () => {
  it('prints the endpoint table and exits 0 when every probe passes', async () => {
    const result = await runCli(['check', await manifestFile([good])]);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^cli: ok, 1 probe passed \(1 fragment on 1 endpoint, \d+ ms\)\n/);
    expect(result.stdout).toMatch(/ENDPOINT\s+OK\s+WARN\s+FAILED\s+MEDIAN\s+P95/);
    expect(result.stdout).toContain(cdn.url('/m/'));
    expect(result.stdout).not.toContain('\u001b['); // no colour in a pipe
  });

  it('exits 1 and lists each failure with its reason', async () => {
    const file = await manifestFile([good, { id: 'gone', path: 'gone.bin' }]);
    const result = await runCli(['check', file]);
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/failures:\n {2}gone {2}\S+gone\.bin {2}EHTTP {2}HTTP 404 Not Found/);
  });

  it('--json prints exactly one document with every probe, whatever the outcome', async () => {
    const file = await manifestFile([good, { id: 'gone', path: 'gone.bin' }]);
    const result = await runCli(['check', file, '--json']);
    expect(result.code).toBe(1);
    const report = JSON.parse(result.stdout);
    expect(Object.keys(report)).toEqual([
      'ok',
      'strict',
      'deep',
      'interrupted',
      'manifest',
      'fragments',
      'summary',
      'durationMs',
      'endpoints',
      'probes',
      'failures',
    ]);
    expect(report).toMatchObject({
      ok: false,
      manifest: { name: 'cli', source: file },
      fragments: { total: 2, probed: 2 },
      summary: { probes: 2, ok: 1, warnings: 0, failed: 1 },
      failures: [{ id: 'gone', code: 'EHTTP', status: 404, endpoint: cdn.url('/m/') }],
    });
    expect(report.endpoints[0]).toMatchObject({ url: cdn.url('/m/'), probes: 2, ok: 1, failed: 1 });
    expect(report.endpoints[0].latency).toEqual({ medianMs: expect.any(Number), p95Ms: expect.any(Number) });
    expect(report.probes[0]).toMatchObject({
      id: 'a',
      url: cdn.url('/m/a.bin'),
      method: 'GET',
      status: 206,
      objectLength: BODY.length,
      rangeSupported: true,
      bytesRead: 1,
      findings: [],
    });
  });

  it('--junit writes a report in the JUnit schema shape', async () => {
    const file = await manifestFile([good, { id: 'gone <&>', path: 'gone.bin' }]);
    const xmlFile = join(dir, 'report.xml');
    const result = await runCli(['check', file, '--junit', xmlFile, '--json']);
    expect(result.code).toBe(1);
    JSON.parse(result.stdout); // still the one JSON document
    const root = parseXml(await readFile(xmlFile, 'utf8'));
    expect(junitProblems(root)).toEqual([]);
    expect(root.attributes).toMatchObject({ tests: '2', failures: '1', errors: '0' });
    const testcase = root.children[0]!.children.find((c) => c.attributes.name === 'gone <&>')!;
    expect(testcase.children[0]!.attributes).toEqual({ message: 'HTTP 404 Not Found', type: 'EHTTP' });
  });

  it('--strict turns the warning of a server that ignores ranges into exit 1', async () => {
    const file = await manifestFile([good]);
    cdn.fault('/m/a.bin', { kind: 'ignoreRange' }, { times: Infinity });
    const lenient = await runCli(['check', file]);
    expect(lenient.code).toBe(0);
    expect(lenient.stdout).toMatch(/warnings:\n {2}a .*WRANGE {2}range ignored/);
    const strict = await runCli(['check', file, '--strict']);
    expect(strict.code).toBe(1);
  });

  it.each([
    [['--sample', '0'], /--sample/],
    [['--timeout', 'soon'], /invalid duration/],
    [['--junit', '/nonexistent-dir/r.xml'], /--junit .*not writable/],
  ])('exits 2 on a usage error: %j', async (args, message) => {
    const result = await runCli(['check', await manifestFile([good]), ...args]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(message);
    expect(cdn.requests).toHaveLength(0);
  });

  it('exits 2 on an invalid manifest, with the JSON error under --json', async () => {
    const file = join(dir, 'bad.json');
    await writeFile(file, '{"version": 2}');
    const result = await runCli(['check', file, '--json']);
    expect(result.code).toBe(2);
    expect(JSON.parse(result.stdout)).toMatchObject({ ok: false, error: { code: 'EMANIFEST' } });
  });

  it('fails fast on a dead endpoint: the built binary, --timeout 2s, probes it once and skips the rest', async () => {
    const port = await closedPort();
    const fragments = Array.from({ length: 50 }, (_, i) => ({ path: `x${i}.bin`, size: 1 }));
    for (let i = 0; i < 50; i++) cdn.set(`/m/x${i}.bin`, Buffer.from('x'));
    const file = await manifestFile(fragments, [cdn.url('/m/'), `http://127.0.0.1:${port}/m/`]);
    const xmlFile = join(dir, 'dead.xml');
    const result = await spawnCli(['check', file, '--timeout', '2s', '--junit', xmlFile]).done;
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/\(unreachable\)/);
    expect(result.stdout).toContain('connection refused');
    expect(result.stdout).toMatch(/49 more fragments on \S+ not probed: the endpoint is unreachable/);
    const root = parseXml(await readFile(xmlFile, 'utf8'));
    expect(junitProblems(root)).toEqual([]);
    expect(root.children.map((s) => s.attributes.failures)).toEqual(['0', '50']);
  });
});
