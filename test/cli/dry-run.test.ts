/**
 * `fetch --dry-run` through the real binary: it lists the plan by priority, what is cached and the
 * endpoints, sends no fragment request, and leaves the cache folder exactly as it was.
 */
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { randomBytesSeeded, sriOf, tempDir } from '../support/fixtures.js';
import { type Harness, harness } from '../support/harness.js';
import { runPiped, treeOf, writeManifest } from './run-bin.js';

let h: Harness;
let work: string;
let cache: string;
let full: Record<string, unknown>[];

function fragment(id: string, size: number, priority: string): Record<string, unknown> {
  const body = randomBytesSeeded(size, id);
  h.cdn.set(`/m/${id}.bin`, body);
  return { id, path: `${id}.bin`, size, integrity: sriOf(body), priority };
}

beforeEach(async () => {
  h = await harness();
  work = await tempDir('fragfetch-cli-');
  cache = join(work, 'cache');
  full = [
    fragment('embed', 4096, 'critical'),
    fragment('layer-0', 8192, 'high'),
    fragment('layer-1', 8192, 'high'),
    fragment('extra', 2048, 'background'),
  ];
  // Warm the cache with two of them, then forget those requests.
  const warm = await writeManifest(work, 'warm', {
    version: 1,
    baseUrls: [h.cdn.url('/m/')],
    fragments: [full[0], full[2]],
  });
  expect((await runPiped(['fetch', warm, '--cache', cache, '--quiet'])).code).toBe(0);
  h.cdn.reset();
});

afterEach(async () => {
  await h.close();
  await rm(work, { recursive: true, force: true });
});

const manifestDoc = () => ({
  version: 1,
  name: 'plan',
  baseUrls: [h.cdn.url('/m/'), 'https://mirror.example.com/m/'],
  fragments: full,
});

describe('fetch --dry-run', () => {
  it('lists by priority what would be downloaded and what is cached, and the endpoints', async () => {
    const file = await writeManifest(work, 'plan', manifestDoc());
    const before = await treeOf(cache);
    const result = await runPiped(['fetch', file, '--cache', cache, '--dry-run']);
    expect(result.code).toBe(0);
    expect(result.stderr).toBe('');
    const out = result.stdout;
    expect(out).toMatch(/^plan: dry run, nothing downloaded, nothing changed\n/);
    expect(out).toMatch(/would download 2 of 4 fragments, 10\.0 KiB; 2 cached \(12\.0 KiB\)/);
    // In download order: priority class, then manifest order.
    const sections = [...out.matchAll(/^ {2}(\w+): (\d+) to download .*, (\d+) cached/gm)].map((m) =>
      m.slice(1),
    );
    expect(sections).toEqual([
      ['critical', '0', '1'],
      ['high', '1', '1'],
      ['background', '1', '0'],
    ]);
    expect(out).toMatch(/^ {4}cached {4}embed\b/m);
    expect(out).toMatch(
      new RegExp(`^ {4}download {2}layer-0 +8\\.0 KiB {2}${h.cdn.url('/m/layer-0.bin')}$`, 'm'),
    );
    expect(out).toMatch(/^ {4}cached {4}layer-1\b/m);
    expect(out).toMatch(/^ {4}download {2}extra\b/m);
    expect(out).toMatch(new RegExp(`^ {2}${h.cdn.origin} +first choice for 2 fragments$`, 'm'));
    expect(out).toMatch(/^ {2}https:\/\/mirror\.example\.com +fallback for 2 fragments$/m);

    await h.cdn.idle();
    expect(h.cdn.requests).toHaveLength(0);
    expect(await treeOf(cache)).toEqual(before);
  });

  it('prints one JSON document with --json', async () => {
    const file = await writeManifest(work, 'plan', manifestDoc());
    const result = await runPiped(['fetch', file, '--cache', cache, '--dry-run', '--json']);
    expect(result.code).toBe(0);
    const plan = JSON.parse(result.stdout);
    expect(plan).toMatchObject({
      dryRun: true,
      manifest: { name: 'plan' },
      cache: { dir: cache },
      fragments: { total: 4, toDownload: 2, cached: 2 },
      bytes: { toDownload: 10240, cached: 12288, undeclared: 0 },
      priorities: [
        { priority: 'critical', toDownload: 0, cached: 1, bytesCached: 4096 },
        { priority: 'high', toDownload: 1, bytesToDownload: 8192, cached: 1 },
        { priority: 'background', toDownload: 1, bytesToDownload: 2048, cached: 0 },
      ],
      endpoints: [
        { url: h.cdn.origin, primary: 2, fallback: 0 },
        { url: 'https://mirror.example.com', primary: 0, fallback: 2 },
      ],
    });
    expect(plan.download.map((f: { id: string }) => f.id)).toEqual(['layer-0', 'extra']);
    expect(plan.cached.map((f: { id: string }) => f.id)).toEqual(['embed', 'layer-1']);
    await h.cdn.idle();
    expect(h.cdn.requests).toHaveLength(0);
  });

  it('creates no cache folder that does not exist yet', async () => {
    const file = await writeManifest(work, 'plan', manifestDoc());
    const fresh = join(work, 'never');
    const result = await runPiped(['fetch', file, '--cache', fresh, '-n']);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/would download 4 of 4 fragments, 22\.0 KiB; 0 cached/);
    expect(existsSync(fresh)).toBe(false);
    await h.cdn.idle();
    expect(h.cdn.requests).toHaveLength(0);
  });

  it('fetches only the manifest itself when it is a URL', async () => {
    h.cdn.set('/m/plan.json', Buffer.from(JSON.stringify(manifestDoc())));
    const result = await runPiped(['fetch', h.cdn.url('/m/plan.json'), '--cache', cache, '--dry-run']);
    expect(result.code).toBe(0);
    await h.cdn.idle();
    expect(h.cdn.requests.map((r) => r.path)).toEqual(['/m/plan.json']);
  });

  it('says so when everything is cached: no request would be sent', async () => {
    const file = await writeManifest(work, 'cached', {
      version: 1,
      name: 'cached',
      baseUrls: [h.cdn.url('/m/')],
      fragments: [full[0], full[2]],
    });
    const result = await runPiped(['fetch', file, '--cache', cache, '--dry-run']);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/would download 0 of 2 fragments, 0 B; 2 cached/);
    expect(result.stdout).toMatch(/endpoints: none, every fragment is cached: no request would be sent/);
  });
});
