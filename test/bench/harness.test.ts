import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { describeFileSystem, fileSystemLabel } from '../../bench/file-system.js';
import { fastShare } from '../../bench/network-scenarios.js';
import { hasHttp2Directive, nginxConf } from '../../bench/nginx.js';
import { releaseFiles } from '../../bench/release.js';
import {
  type BenchResults,
  evaluate,
  markdownTables,
  type RunRecord,
  summariseRow,
} from '../../bench/report.js';
import type { Scenario } from '../../bench/scenarios.js';
import { curlConfig } from '../../bench/tools.js';
import { describeTraffic, parseTraffic } from '../../bench/traffic.js';
import { startCdn } from '../support/cdn.js';
import { randomBytesSeeded } from '../support/fixtures.js';
import { makePki } from '../support/pki.js';

const run = promisify(execFile);

/** The nginx config's options, as the bench gives them, for the tests of what it writes. */
const NGINX_BASE = {
  prefix: '/p',
  port: 8080,
  root: '/r',
  throttledDir: '/r/big',
  throttleBytesPerSecond: 32_000_000,
  workers: 2,
  tempPathDirectives: ['client_body_temp_path'],
};

describe('bench: nginx over https', () => {
  const base = NGINX_BASE;

  it('uses `listen … ssl http2` before nginx 1.25.1 and `http2 on;` from it', () => {
    expect(hasHttp2Directive('1.22.1')).toBe(false);
    expect(hasHttp2Directive('1.25.0')).toBe(false);
    expect(hasHttp2Directive('1.25.1')).toBe(true);
    expect(hasHttp2Directive('1.26.3')).toBe(true);
    const tls = { port: 8443, cert: '/c.pem', key: '/k.pem' };
    const old = nginxConf({ ...base, tls: { ...tls, http2Directive: false } });
    expect(old).toContain('listen 127.0.0.1:8443 ssl http2;');
    expect(old).not.toContain('http2 on;');
    const current = nginxConf({ ...base, tls: { ...tls, http2Directive: true } });
    expect(current).toContain('listen 127.0.0.1:8443 ssl;');
    expect(current).toContain('http2 on;');
    expect(current).toContain('ssl_certificate /c.pem;');
    expect(current).toContain('ssl_protocols TLSv1.2 TLSv1.3;');
    // The plain site is still there, and only one https site.
    expect(current).toContain('listen 127.0.0.1:8080;');
    expect(current.match(/ssl_certificate_key/g)).toHaveLength(1);
    expect(nginxConf(base)).not.toContain('ssl_certificate');
  });
});

describe('bench: two mirrors of different speed', () => {
  it('serves the https site again on a port of its own, every request limited', () => {
    const conf = nginxConf({
      ...NGINX_BASE,
      tempPathDirectives: [],
      tls: { port: 8443, cert: '/c.pem', key: '/k.pem', http2Directive: true },
      slowMirror: { port: 9443, bytesPerSecond: 4_000_000 },
    });
    const servers = conf.split(/\n\s*server \{/).slice(1);
    expect(servers).toHaveLength(3);
    const [, fast, slow] = servers;
    expect(fast).toContain('listen 127.0.0.1:8443 ssl;');
    expect(fast).not.toContain('limit_rate 4000000;');
    expect(slow).toContain('listen 127.0.0.1:9443 ssl;');
    expect(slow).toContain('ssl_certificate /c.pem;');
    expect(slow).toMatch(/root \/r;\n\s*limit_rate 4000000;/);
  });

  it('counts the fast mirror’s share of the bytes by origin', () => {
    const share = fastShare('https://127.0.0.1:8443');
    const report = (endpoints: { url: string; bytes: number }[]) =>
      share({ endpoints } as Parameters<typeof share>[0]);
    expect(
      report([
        { url: 'https://127.0.0.1:9443', bytes: 300 },
        { url: 'https://127.0.0.1:8443', bytes: 700 },
      ]),
    ).toEqual({ fastSharePercent: 70 });
    expect(report([{ url: 'https://127.0.0.1:9443', bytes: 5 }])).toEqual({ fastSharePercent: 0 });
    expect(report([])).toEqual({ fastSharePercent: 0 });
  });
});

describe('bench: targets on a figure other than time', () => {
  const run = (ok: boolean, value: number): RunRecord => ({
    round: 1,
    seconds: 1,
    rssKiB: null,
    ok,
    metrics: { share: value },
  });
  const scenario = (targets: Scenario['targets']): Scenario => ({
    name: 'mirrors',
    description: '',
    files: 1,
    bytes: 1,
    rows: [],
    targets,
    conditions: [],
  });
  const rows = () => [
    summariseRow(
      { id: 'a', tool: 'fragfetch', label: 'A' },
      [run(true, 60), run(true, 80), run(true, 75), run(false, 99)],
      'a',
    ),
    summariseRow({ id: 'b', tool: 'fragfetch', label: 'B' }, [run(false, 90)], 'b'),
  ];

  it('judges the median over the row’s successful runs against a lower or an upper bound', () => {
    const result = evaluate(
      scenario([
        { label: '≥ 70', row: 'a', metric: 'share', unit: '%', atLeast: 70 },
        { label: '≥ 76', row: 'a', metric: 'share', unit: '%', atLeast: 76 },
        { label: '≤ 75', row: 'a', metric: 'share', unit: '%', atMost: 75 },
        { label: 'shown', row: 'a', metric: 'share', unit: 'MiB/s' },
        { label: 'no run', row: 'b', metric: 'share', unit: '%', atLeast: 1 },
      ]),
      rows(),
    );
    const [atLeast, missed, atMost, shown, none] = result.targets;
    expect(atLeast).toMatchObject({ value: 75, unit: '%', limit: 70, met: true });
    expect(missed).toMatchObject({ value: 75, met: false });
    expect(atMost).toMatchObject({ value: 75, limit: 75, met: true });
    expect(shown).toMatchObject({ value: 75, unit: 'MiB/s', limit: null, met: null });
    expect(none).toMatchObject({ value: null, met: null, note: 'not measured: B had no successful run' });
  });
});

describe('bench: a scenario’s own peak RSS target', () => {
  it('judges fragfetch’s peak RSS against the scenario’s limit, and shows seconds and MiB targets', () => {
    const rss = (kib: number): RunRecord => ({
      round: 1,
      seconds: 2.5,
      rssKiB: kib,
      ok: true,
      metrics: { seconds: 2.5 },
    });
    const rows = [summariseRow({ id: 'validate', tool: 'fragfetch', label: 'V' }, [rss(300 * 1024)], 'v')];
    const scenario: Scenario = {
      name: 'manifest-scale',
      description: '',
      files: 1,
      bytes: 1,
      rows: [],
      targets: [{ label: '≤ 3 s', row: 'validate', metric: 'seconds', unit: 's', atMost: 3 }],
      conditions: [],
      rssLimitMiB: 400,
    };
    const result = evaluate(scenario, rows);
    expect(result.targets[0]).toMatchObject({ value: 2.5, unit: 's', limit: 3, met: true });
    expect(result.targets[1]).toMatchObject({ label: 'fragfetch peak RSS ≤ 400 MiB', value: 300, met: true });
    expect(evaluate({ ...scenario, rssLimitMiB: undefined }, rows).targets[1]).toMatchObject({
      limit: 200,
      met: false,
    });
    expect(markdownTables({ scenarios: [result] } as BenchResults)).toContain(
      '| manifest-scale | ≤ 3 s | 2.50 s | met |',
    );
  });
});

describe('bench: cat-link', () => {
  it('serves the throttled folder again at /throttled-link/, at its own rate, when asked', () => {
    const base = { ...NGINX_BASE, tempPathDirectives: [] };
    const conf = nginxConf({ ...base, linkThrottleBytesPerSecond: 4_000_000 });
    expect(conf).toMatch(/location \/throttled\/ \{\n\s*alias \/r\/big\/;\n\s*limit_rate 32000000;/);
    expect(conf).toMatch(/location \/throttled-link\/ \{\n\s*alias \/r\/big\/;\n\s*limit_rate 4000000;/);
    expect(nginxConf(base)).not.toContain('throttled-link');
  });

  it('judges the peak RSS of a row of its own, over every run, besides the maximum of all', () => {
    const run = (kib: number): RunRecord => ({ round: 1, seconds: 1, rssKiB: kib, ok: true });
    const rows = [
      summariseRow({ id: 'fragfetch', tool: 'fragfetch', label: 'fetch' }, [run(150 * 1024)], 'f'),
      summariseRow(
        { id: 'fragfetch-cat', tool: 'fragfetch', label: 'cat' },
        [run(120 * 1024), run(210 * 1024)],
        'c',
      ),
    ];
    const scenario: Scenario = {
      name: 'cat-link',
      description: '',
      files: 1,
      bytes: 1,
      rows: [],
      targets: [],
      conditions: [],
      rssRows: ['fragfetch-cat'],
    };
    const [all, cat] = evaluate(scenario, rows).targets;
    expect(all).toMatchObject({ label: 'fragfetch peak RSS ≤ 200 MiB', value: 210, met: false });
    expect(cat).toMatchObject({ label: 'cat: peak RSS ≤ 200 MiB, every run', value: 210, met: false });
    const under = evaluate(scenario, [
      rows[0]!,
      summariseRow({ id: 'fragfetch-cat', tool: 'fragfetch', label: 'cat' }, [run(120 * 1024)], 'c'),
    ]);
    expect(under.targets[1]).toMatchObject({ value: 120, met: true });
  });
});

describe('bench: what the server saw', () => {
  it('counts protocols and distinct connections from nginx log lines', () => {
    const lines = [
      '200 120 HTTP/2.0 TLSv1.3 7',
      '200 40 HTTP/2.0 TLSv1.3 7',
      '200 118 HTTP/1.1 TLSv1.3 9',
      '200 95 HTTP/1.1 - 12',
    ];
    const traffic = parseTraffic(lines, 'nginx');
    expect(traffic).toEqual({
      requests: 4,
      protocols: { 'HTTP/2.0 TLSv1.3': 2, 'HTTP/1.1 TLSv1.3': 1, 'HTTP/1.1': 1 },
      connections: 3,
    });
    expect(describeTraffic(traffic)).toBe(
      'HTTP/2.0 TLSv1.3 ×2, HTTP/1.1 TLSv1.3 ×1, HTTP/1.1 ×1, 3 connections',
    );
    expect(describeTraffic(parseTraffic(['HTTP/2.0 TLS'], 'cdn'))).toBe('HTTP/2.0 TLS ×1');
    expect(describeTraffic(parseTraffic([], 'nginx'))).toBe('no request');
  });
});

describe('bench: curl config', () => {
  it('gives every operation its own cacert (`next` resets it)', () => {
    const transfers = ['a', 'b', 'c'].map((name) => ({ url: `https://h/${name}`, name, size: 1 }));
    const config = curlConfig(transfers, '/out', { caFile: '/ca.pem' });
    const blocks = config.split('\nnext\n');
    expect(blocks).toHaveLength(3);
    for (const block of blocks) expect(block).toContain('cacert = "/ca.pem"');
    expect(curlConfig(transfers, '/out')).not.toContain('cacert');
    const limited = curlConfig(transfers, '/out', undefined, ['limit-rate = "20M"']).split('\nnext\n');
    for (const block of limited) expect(block).toContain('limit-rate = "20M"');
  });
});

describe('bench: releasing a run’s files', () => {
  let dir: string | undefined;
  afterEach(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('truncates every file under the folder to zero bytes and deletes none', async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'fragfetch-bench-release-'));
    await mkdir(path.join(dir, 'content', 'ab'), { recursive: true });
    await writeFile(path.join(dir, 'top.bin'), Buffer.alloc(5000, 1));
    await writeFile(path.join(dir, 'content', 'ab', 'deep.bin'), Buffer.alloc(70_000, 2));
    expect(await releaseFiles(dir)).toBe(2);
    expect((await stat(path.join(dir, 'top.bin'))).size).toBe(0);
    expect((await stat(path.join(dir, 'content', 'ab', 'deep.bin'))).size).toBe(0);
    expect(await readdir(path.join(dir, 'content', 'ab'))).toEqual(['deep.bin']);
    expect(await releaseFiles(path.join(dir, 'missing'))).toBe(0);
  });
});

describe('bench: the undici floor', () => {
  it('fetches every fragment of a manifest over https with the CA given, and counts their bytes', async () => {
    const pki = await makePki();
    const cdn = await startCdn({ tls: { cert: pki.server.cert.pem, key: pki.server.key.pem } });
    const dir = await mkdtemp(path.join(tmpdir(), 'fragfetch-floor-'));
    try {
      const fragments = [];
      for (let i = 0; i < 12; i++) {
        cdn.set(`/m/f${i}.bin`, randomBytesSeeded(10_000 + i, `f${i}`));
        fragments.push({ path: `f${i}.bin` });
      }
      const manifest = path.join(dir, 'm.json');
      await writeFile(manifest, JSON.stringify({ baseUrls: [cdn.url('/m/')], fragments }));
      const { stdout } = await run(process.execPath, [
        'dist/bench/undici-floor.js',
        manifest,
        '4',
        '3',
        pki.ca.cert.path,
      ]);
      const bytes = 12 * 10_000 + (11 * 12) / 2;
      expect(stdout).toContain(`12 objects, ${(bytes / 2 ** 20).toFixed(1)} MiB in`);
      expect(cdn.requests.filter((r) => r.status === 200)).toHaveLength(12);
      expect(cdn.peakInFlight).toBeLessThanOrEqual(3);
    } finally {
      await cdn.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('bench: the file system the tools write to', () => {
  it('names an ext4 with or without its journal, and other mounts by type and source', () => {
    expect(fileSystemLabel({ type: 'ext4', source: '/dev/vda', journalTask: '<none>\n' })).toBe(
      'ext4 (/dev/vda, no journal)',
    );
    expect(fileSystemLabel({ type: 'ext4', source: '/dev/loop0', journalTask: '16410\n' })).toBe(
      'ext4 (/dev/loop0, journal)',
    );
    expect(fileSystemLabel({ type: 'tmpfs', source: 'tmpfs' })).toBe('tmpfs');
    expect(fileSystemLabel({ type: 'xfs', source: '/dev/sdb1' })).toBe('xfs (/dev/sdb1)');
  });

  it('asks findmnt for the mount a folder is on', async () => {
    expect(await describeFileSystem('/proc/self')).toBe('proc');
    expect(await describeFileSystem('/no/such/folder/anywhere')).toBeUndefined();
  });
});
