import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLoader, type ReadyFragment } from '../../src/index.js';
import { spawnCli } from '../support/cli.js';
import { randomBytesSeeded, sriOf } from '../support/fixtures.js';
import { type Harness, harness } from '../support/harness.js';

let h: Harness;
beforeEach(async () => {
  h = await harness();
});
afterEach(async () => {
  await h.close();
});

const bodies = {
  embed: randomBytesSeeded(50_000, 'embed'),
  layer0: randomBytesSeeded(40_000, 'layer0'),
  layer1: randomBytesSeeded(30_000, 'layer1'),
  tail: randomBytesSeeded(20_000, 'tail'),
};
const fragments = [
  { id: 'tail', path: 'tail.bin', size: 20_000, integrity: sriOf(bodies.tail), priority: 'low' },
  { id: 'layer1', path: 'layer1.bin', size: 30_000, integrity: sriOf(bodies.layer1), priority: 'high' },
  { id: 'embed', path: 'embed.bin', size: 50_000, integrity: sriOf(bodies.embed), priority: 'critical' },
  {
    id: 'layer0',
    path: 'layer0.bin',
    size: 40_000,
    integrity: sriOf(bodies.layer0),
    priority: 'high',
    importance: 0.9,
  },
];

function serve(): void {
  for (const [name, body] of Object.entries(bodies)) h.cdn.set(`/m/${name}.bin`, body);
}

async function collect(items: AsyncIterable<ReadyFragment>): Promise<string[]> {
  const ids: string[] = [];
  for await (const item of items) {
    expect(await item.bytes()).toEqual(bodies[item.id as keyof typeof bodies]);
    ids.push(item.id);
  }
  return ids;
}

describe('createLoader', () => {
  it('streams fragments in priority order however they complete, or as each is ready', async () => {
    serve();
    // The critical fragment is the last to arrive: the others wait for it in priority order.
    h.cdn.fault('/m/embed.bin', { kind: 'delay', ms: 300 });
    const loader = createLoader({ cache: h.cacheDir });
    const manifest = h.manifest(fragments);
    expect(await collect(loader.stream(manifest))).toEqual(['embed', 'layer0', 'layer1', 'tail']);

    const other = createLoader({ cache: `${h.cacheDir}/ready` });
    h.cdn.fault('/m/embed.bin', { kind: 'delay', ms: 300 });
    const ready = await collect(other.stream(manifest, { order: 'ready' }));
    expect(ready.at(-1)).toBe('embed');
    expect([...ready].sort()).toEqual(['embed', 'layer0', 'layer1', 'tail']);
  });

  it('says which fragments came from the cache, and reads them as streams', async () => {
    serve();
    const loader = createLoader({ cache: h.cacheDir });
    const first = [];
    for await (const item of loader.stream(h.manifest(fragments))) first.push(item.cached);
    expect(first).toEqual([false, false, false, false]);
    h.cdn.reset();
    for await (const item of loader.stream(h.manifest(fragments))) {
      expect(item.cached).toBe(true);
      const chunks: Buffer[] = [];
      for await (const chunk of item.read()) chunks.push(chunk as Buffer);
      expect(Buffer.concat(chunks)).toEqual(bodies[item.id as keyof typeof bodies]);
    }
    await h.cdn.idle();
    expect(h.cdn.requests).toHaveLength(0);
  });

  it('throws a failed fragment’s coded error where it would have come, after the ones before it', async () => {
    serve();
    h.cdn.delete('/m/layer1.bin');
    const got: string[] = [];
    const loader = createLoader({ cache: h.cacheDir, retries: 0 });
    const error = await (async () => {
      for await (const item of loader.stream(h.manifest(fragments))) got.push(item.id);
    })().catch((e: unknown) => e);
    expect(got).toEqual(['embed', 'layer0']);
    expect(error).toMatchObject({ code: 'EHTTP', status: 404 });
  });

  it('aborts what is left when the loop is left early', async () => {
    serve();
    // tail would stall for longer than the test may run: only an abort lets the loop end.
    h.cdn.fault('/m/tail.bin', { kind: 'stall', afterBytes: 1000, ms: 600_000 });
    const loader = createLoader({ cache: h.cacheDir });
    const manifest = h.manifest([fragments[2]!, fragments[0]!]);
    for await (const item of loader.stream(manifest)) {
      expect(item.id).toBe('embed');
      break;
    }
    // The stalled fragment never reached the cache; the one handed over did.
    const offline = await createLoader({ cache: h.cacheDir, cacheMode: 'offline' }).fetch(manifest);
    expect(offline.fragments).toMatchObject({ cached: 1, failed: 1 });
    expect(offline.failures[0]!.id).toBe('tail');
  });

  it('fetches as `fragfetch fetch` does, telling each fragment and its bytes as events', async () => {
    serve();
    const loader = createLoader({ cache: h.cacheDir });
    const settled: string[] = [];
    let bytes = 0;
    loader.on('fragment', (fragment, outcome) => settled.push(`${fragment.id} ${outcome}`));
    loader.on('progress', (_fragment, _url, n) => (bytes += n));
    const endpoints: string[] = [];
    loader.on('endpoint', (request) => endpoints.push(`${request.status} ${request.url}`));
    const report = await loader.fetch(h.manifest(fragments));
    expect(report.ok).toBe(true);
    expect(report.fragments).toMatchObject({ total: 4, downloaded: 4 });
    expect([...settled].sort()).toEqual([
      'embed downloaded',
      'layer0 downloaded',
      'layer1 downloaded',
      'tail downloaded',
    ]);
    expect(bytes).toBe(140_000);
    expect(endpoints.sort()).toEqual(
      ['embed', 'layer0', 'layer1', 'tail'].map((n) => `200 ${h.cdn.url(`/m/${n}.bin`)}`),
    );
  });

  it('gives the report `fragfetch fetch --json` prints for the same run', async () => {
    serve();
    const manifest = await h.manifestFile(fragments);
    const cli = JSON.parse(
      (await spawnCli(['fetch', manifest, '--cache', `${h.cacheDir}/cli`, '--json']).done).stdout,
    );
    const api = await createLoader({ cache: `${h.cacheDir}/api` }).fetch(manifest);
    const shape = (report: typeof api) => ({
      ok: report.ok,
      fragments: report.fragments,
      bytes: report.bytes,
      cache: { ...report.cache, dir: undefined },
      failures: report.failures,
      keys: Object.keys(report).sort(),
    });
    expect(shape(api)).toEqual(shape(cli));
  });
});
