import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createManifest } from '../../src/manifest/create.js';
import type { DocumentFragment, ManifestDocument } from '../../src/manifest/document.js';
import { formatBytes } from '../../src/units.js';
import { runCli } from '../support/cli.js';
import { tempDir } from '../support/fixtures.js';
import { harness, type Harness } from '../support/harness.js';
import { modelFiles, writeModel } from './model.js';
import { bytes, gguf, GGUF_TYPE } from './writers.js';

let h: Harness;
let dir: string;
const files = modelFiles();

beforeEach(async () => {
  h = await harness();
  dir = await tempDir('fragfetch-remote-');
  for (const [path, data] of Object.entries(files)) h.cdn.set(`/m/${path}`, data);
});
afterEach(async () => {
  await h.close();
  await rm(dir, { recursive: true, force: true });
});

const URLS = () => [
  h.cdn.url('/m/model.safetensors.index.json'),
  h.cdn.url('/m/gguf/tiny-Q8_0.gguf'),
  h.cdn.url('/m/config.json'),
];

async function remote(urls: string[], ...extra: string[]) {
  const result = await runCli(['manifest', 'create', '--tensors', '--from-url', ...urls, ...extra]);
  const manifest = result.code === 0 ? (JSON.parse(result.stdout) as ManifestDocument) : undefined;
  return { ...result, manifest };
}

function byId(fragments: DocumentFragment[]): DocumentFragment[] {
  return [...fragments].sort((a, b) => ((a.id ?? a.path) < (b.id ?? b.path) ? -1 : 1));
}

describe('manifest create --from-url --tensors', () => {
  it('builds the local manifest without integrity from two range requests per safetensors file', async () => {
    const { code, manifest, stderr } = await remote(URLS());
    expect(code).toBe(0);
    await h.cdn.idle();
    const requests = h.cdn.requests.map((r) => `${r.method} ${r.path} ${r.range ?? '-'}`);
    const shard1 = files['model-00001-of-00002.safetensors']!;
    const shard2 = files['model-00002-of-00002.safetensors']!;
    expect(requests.sort()).toEqual(
      [
        'GET /m/model.safetensors.index.json -',
        'GET /m/model-00001-of-00002.safetensors bytes=0-7',
        `GET /m/model-00001-of-00002.safetensors bytes=8-${7 + Number(shard1.readBigUInt64LE(0))}`,
        'GET /m/model-00002-of-00002.safetensors bytes=0-7',
        `GET /m/model-00002-of-00002.safetensors bytes=8-${7 + Number(shard2.readBigUInt64LE(0))}`,
        'GET /m/gguf/tiny-Q8_0.gguf bytes=0-1999999',
        'HEAD /m/config.json -',
      ].sort(),
    );
    // The second range of a file is conditional on what the first answered.
    const second = h.cdn.requests.find((r) => r.range?.startsWith('bytes=8-'));
    expect(second?.ifRange).toMatch(/^"/);

    const size = (path: string) => formatBytes(files[path]!.length);
    expect(stderr.trimEnd().split('\n')).toEqual([
      `model.safetensors.index.json: 2 shards named, ${size('model.safetensors.index.json')} (1 request)`,
      `model-00001-of-00002.safetensors: 4 tensors, ${size('model-00001-of-00002.safetensors')} (2 requests)`,
      `model-00002-of-00002.safetensors: 5 tensors, ${size('model-00002-of-00002.safetensors')} (2 requests)`,
      `gguf/tiny-Q8_0.gguf: 4 tensors, ${size('gguf/tiny-Q8_0.gguf')} (1 request)`,
      `config.json: whole, ${size('config.json')} (1 request)`,
    ]);

    await writeModel(dir, files);
    const local = await createManifest(dir, { baseUrl: h.cdn.url('/m/'), tensors: true });
    const withoutIntegrity = local.fragments.map(({ integrity: _, ...rest }) => rest);
    expect(byId(manifest!.fragments)).toEqual(byId(withoutIntegrity));
    expect(manifest!.baseUrls).toEqual([h.cdn.url('/m/')]);
    expect(manifest!.name).toBe('m');
    const head = await fetch(h.cdn.url('/m/model-00001-of-00002.safetensors'), { method: 'HEAD' });
    expect(manifest!.sources).toContainEqual({
      path: 'model-00001-of-00002.safetensors',
      url: h.cdn.url('/m/model-00001-of-00002.safetensors'),
      size: shard1.length,
      etag: head.headers.get('etag'),
      lastModified: head.headers.get('last-modified'),
      tensors: 4,
    });
  });

  it('mirror reassembles the files byte for byte from the remote manifest', async () => {
    const file = join(dir, 'remote.json');
    const made = await runCli(['manifest', 'create', '--tensors', '--from-url', ...URLS(), '-o', file]);
    expect(made.code).toBe(0);
    const target = join(dir, 'out');
    const result = await runCli(['mirror', file, target, '--cache', h.cacheDir, '--no-progress', '--quiet']);
    expect(result.code).toBe(0);
    for (const [path, data] of Object.entries(files)) {
      expect((await readFile(join(target, ...path.split('/')))).equals(data), path).toBe(true);
    }
  });

  it('reads the header from one answer when the server ignores Range, and closes it', async () => {
    const big = Buffer.concat([files['model-00002-of-00002.safetensors']!, Buffer.alloc(8 << 20)]);
    h.cdn.set('/m/big.safetensors', big);
    h.cdn.fault('/m/big.safetensors', { kind: 'ignoreRange' }, { times: Infinity });
    const { code, manifest, stderr } = await remote([h.cdn.url('/m/big.safetensors')]);
    expect(code).toBe(0);
    expect(stderr).toBe('big.safetensors: 5 tensors, 8.0 MiB (1 request)\n');
    await h.cdn.idle();
    const [only, ...rest] = h.cdn.requestsFor('/m/big.safetensors');
    expect(rest).toEqual([]);
    expect(only!.status).toBe(200);
    expect(only!.bytesSent).toBeLessThan(big.length);
    expect(manifest!.fragments.at(-1)).toMatchObject({ id: 'big.safetensors:lm_head.weight' });
    expect(manifest!.fragments.reduce((sum, f) => sum + f.size, 0)).toBe(big.length);
  });

  it('reads a GGUF header larger than one 2 MB range in several ranges, from a server that honours Range or not', async () => {
    const tokens = Array.from({ length: 250_000 }, (_, i) => `token-${i}`);
    const big = gguf(
      [
        { name: 'token_embd.weight', shape: [4], type: GGUF_TYPE.F32, data: bytes(16, 1) },
        { name: 'blk.0.attn_q.weight', shape: [4], type: GGUF_TYPE.F32, data: bytes(16, 2) },
      ],
      { kv: { 'tokenizer.ggml.tokens': { type: 'strings', value: tokens } } },
    );
    expect(big.length).toBeGreaterThan(4_500_000);
    h.cdn.set('/m/big.gguf', big);
    h.cdn.set('/m/plain.gguf', big);
    h.cdn.fault('/m/plain.gguf', { kind: 'ignoreRange' }, { times: Infinity });
    const { code, manifest, stderr } = await remote([h.cdn.url('/m/big.gguf'), h.cdn.url('/m/plain.gguf')]);
    expect(code).toBe(0);
    expect(stderr).toBe(
      `big.gguf: 2 tensors, ${formatBytes(big.length)} (3 requests)\n` +
        `plain.gguf: 2 tensors, ${formatBytes(big.length)} (3 requests)\n`,
    );
    await h.cdn.idle();
    expect(h.cdn.requestsFor('/m/big.gguf').map((r) => r.range)).toEqual([
      'bytes=0-1999999',
      'bytes=2000000-3999999',
      'bytes=4000000-5999999',
    ]);
    expect(
      h.cdn
        .requestsFor('/m/big.gguf')
        .slice(1)
        .every((r) => r.ifRange !== undefined),
    ).toBe(true);
    const ranges = manifest!.fragments.filter((f) => f.path === 'big.gguf').map((f) => [f.offset, f.size]);
    const dataStart = big.length - 48;
    expect(ranges).toEqual([
      [0, dataStart],
      [dataStart, 32],
      [dataStart + 32, 16],
    ]);
  });

  it('a file replaced between its two requests is refused, not spliced', async () => {
    const path = '/m/model-00001-of-00002.safetensors';
    h.cdn.fault(path, { kind: 'delay', ms: 0 });
    h.cdn.fault(path, { kind: 'change', body: files['model-00002-of-00002.safetensors']! });
    const { code, stdout, stderr } = await remote([h.cdn.url(path)]);
    expect(stdout).toBe('');
    expect(stderr).toBe(
      'fragfetch: model-00001-of-00002.safetensors: changed on the server while its header was read\n',
    );
    expect(code).toBe(1);
    await h.cdn.idle();
    expect(h.cdn.requestsFor(path).map((r) => r.status)).toEqual([206, 200]);
  });

  it('a file the server does not have exits 1 with its HTTP status, nothing written', async () => {
    const { code, stdout, stderr } = await remote([h.cdn.url('/m/missing.safetensors')]);
    expect(code).toBe(1);
    expect(stdout).toBe('');
    expect(stderr).toBe(`fragfetch: GET ${h.cdn.url('/m/missing.safetensors')}: HTTP 404\n`);
  });

  it('a malformed remote header exits 2 naming the file', async () => {
    h.cdn.set('/m/bad.safetensors', Buffer.from('\xff\xff\xff\xff\xff\xff\x00\x00', 'latin1'));
    const { code, stderr } = await remote([h.cdn.url('/m/bad.safetensors')]);
    expect(code).toBe(2);
    expect(stderr).toMatch(
      /^fragfetch: bad\.safetensors: not a safetensors file: it claims a \d+-byte header/,
    );
  });

  it('without --tensors, describes each URL whole by one HEAD', async () => {
    const urls = [h.cdn.url('/m/config.json'), h.cdn.url('/m/model-00001-of-00002.safetensors')];
    const result = await runCli(['manifest', 'create', '--from-url', ...urls]);
    expect(result.code).toBe(0);
    const manifest = JSON.parse(result.stdout) as ManifestDocument;
    expect(manifest.fragments).toEqual([
      { path: 'config.json', size: files['config.json']!.length },
      { path: 'model-00001-of-00002.safetensors', size: files['model-00001-of-00002.safetensors']!.length },
    ]);
    await h.cdn.idle();
    expect(h.cdn.requests.map((r) => `${r.method} ${r.path}`)).toEqual([
      'HEAD /m/config.json',
      'HEAD /m/model-00001-of-00002.safetensors',
    ]);
  });

  it('refuses a folder and --from-url together', async () => {
    const result = await runCli(['manifest', 'create', dir, '--from-url', URLS()[0]!]);
    expect(result.code).toBe(2);
    expect(result.stderr.split('\n')[0]).toBe('fragfetch: give a folder or --from-url, not both');
  });
});
