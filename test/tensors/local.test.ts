import { access, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseManifest } from '../../src/manifest/parse.js';
import { runCli, spawnCli } from '../support/cli.js';
import { sriOf, tempDir } from '../support/fixtures.js';
import { harness, type Harness } from '../support/harness.js';
import { modelFiles, writeModel } from './model.js';
import { safetensors, withHeader } from './writers.js';

let dir: string;
let out: string;
beforeEach(async () => {
  dir = await tempDir('fragfetch-model-');
  out = await tempDir('fragfetch-out-');
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
  await rm(out, { recursive: true, force: true });
});

interface Written {
  id?: string;
  path: string;
  offset?: number;
  size: number;
  integrity?: string;
  priority?: string;
  importance?: number;
}

async function create(...extra: string[]) {
  const result = await runCli([
    'manifest',
    'create',
    dir,
    '--base-url',
    'https://cdn.example.com/m/',
    ...extra,
  ]);
  const fragments =
    result.code === 0 ? (JSON.parse(result.stdout) as { fragments: Written[] }).fragments : [];
  return { ...result, fragments };
}

describe('manifest create --tensors', () => {
  it('cuts each weights file into header and tensor fragments that cover it, each with its sha256', async () => {
    const files = modelFiles();
    await writeModel(dir, files);
    const { code, fragments, stderr } = await create('--tensors');
    expect(stderr).toBe('');
    expect(code).toBe(0);

    const byPath = new Map<string, Written[]>();
    for (const f of fragments) byPath.set(f.path, [...(byPath.get(f.path) ?? []), f]);
    expect([...byPath.keys()]).toEqual([
      'config.json',
      'gguf/tiny-Q8_0.gguf',
      'model-00001-of-00002.safetensors',
      'model-00002-of-00002.safetensors',
      'model.safetensors.index.json',
    ]);
    for (const [path, list] of byPath) {
      const data = files[path] as Buffer;
      if (list.length === 1 && list[0]!.offset === undefined) {
        expect(list[0]).toMatchObject({ size: data.length, integrity: sriOf(data) });
        continue;
      }
      // Contiguous from 0 to the end: mirror writes every byte of the file.
      let at = 0;
      for (const f of list) {
        expect(f.offset).toBe(at);
        expect(f.integrity).toBe(sriOf(data.subarray(at, at + f.size)));
        at += f.size;
      }
      expect(at).toBe(data.length);
    }
    expect(byPath.get('model-00002-of-00002.safetensors')!.map((f) => f.id)).toEqual([
      'model-00002-of-00002.safetensors:__header__',
      'model-00002-of-00002.safetensors:model.layers.1.mlp.up_proj.bias',
      'model-00002-of-00002.safetensors:model.layers.2.self_attn.q_proj.weight',
      'model-00002-of-00002.safetensors:model.layers.2.rotary.inv_freq',
      'model-00002-of-00002.safetensors:model.norm.weight',
      'model-00002-of-00002.safetensors:lm_head.weight',
    ]);
    const zero = fragments.find((f) => f.id?.endsWith(':model.layers.2.rotary.inv_freq'));
    expect(zero).toMatchObject({ size: 0, integrity: sriOf(Buffer.alloc(0)) });
    // The 3 bytes of padding after q_proj belong to it.
    expect(
      fragments.find(
        (f) => f.id === 'model-00001-of-00002.safetensors:model.layers.0.self_attn.q_proj.weight',
      )!.size,
    ).toBe(35);
    const gguf = byPath.get('gguf/tiny-Q8_0.gguf')!;
    expect(gguf.map((f) => [f.id, f.size])).toEqual([
      ['gguf/tiny-Q8_0.gguf:__header__', gguf[1]!.offset],
      ['gguf/tiny-Q8_0.gguf:token_embd.weight', 96],
      ['gguf/tiny-Q8_0.gguf:blk.0.attn_q.weight', 32],
      ['gguf/tiny-Q8_0.gguf:blk.1.attn_q.weight', 32],
      ['gguf/tiny-Q8_0.gguf:output.weight', 16],
    ]);
    expect(() =>
      parseManifest(JSON.parse(JSON.stringify({ version: 1, baseUrls: ['https://x/'], fragments })), 'm'),
    ).not.toThrow();
  });

  it('gives the default priorities: headers, config, embeddings, norms, lm_head and layer 0 critical', async () => {
    await writeModel(dir);
    const { fragments } = await create('--tensors');
    const of = (suffix: string) => fragments.find((f) => (f.id ?? f.path).endsWith(suffix));
    expect(of('config.json')).toMatchObject({ priority: 'critical', importance: 1 });
    expect(of('00001-of-00002.safetensors:__header__')).toMatchObject({
      priority: 'critical',
      importance: 1,
    });
    expect(of(':model.embed_tokens.weight')).toMatchObject({ priority: 'critical', importance: 1 });
    expect(of(':lm_head.weight')).toMatchObject({ priority: 'critical', importance: 1 });
    expect(of(':output.weight')).toMatchObject({ priority: 'critical', importance: 1 });
    expect(of(':model.norm.weight')).toMatchObject({ priority: 'critical', importance: 1 });
    // Three layers: importance (3 - n) / 4, so earlier layers first within a class.
    expect(of(':model.layers.0.self_attn.q_proj.weight')).toMatchObject({
      priority: 'critical',
      importance: 0.75,
    });
    expect(of(':blk.0.attn_q.weight')).toMatchObject({ priority: 'critical', importance: 0.75 });
    expect(of(':model.layers.0.input_layernorm.weight')).toMatchObject({ priority: 'critical' });
    expect(of(':model.layers.1.self_attn.q_proj.weight')).toMatchObject({
      priority: 'high',
      importance: 0.5,
    });
    expect(of(':model.layers.2.self_attn.q_proj.weight')).toMatchObject({
      priority: 'high',
      importance: 0.25,
    });
  });

  it('--priority rules come first, the first match wins, and --explain says which rule decided', async () => {
    await writeModel(dir);
    const { fragments, stderr, code } = await create(
      '--tensors',
      '--priority',
      'background=*.bias',
      '--priority',
      'low=model.layers.1.*',
      '--priority',
      'low=*.gguf:*',
      '--explain',
    );
    expect(code).toBe(0);
    const of = (suffix: string) => fragments.find((f) => (f.id ?? f.path).endsWith(suffix));
    expect(of(':model.layers.1.mlp.up_proj.bias')).toMatchObject({ priority: 'background', importance: 0.5 });
    expect(of(':model.layers.1.self_attn.q_proj.weight')).toMatchObject({ priority: 'low' });
    expect(of('gguf:token_embd.weight')?.priority).toBe('low');
    expect(of('gguf/tiny-Q8_0.gguf:token_embd.weight')?.priority).toBe('low');
    expect(of(':model.layers.2.self_attn.q_proj.weight')?.priority).toBe('high');
    const lines = stderr.trimEnd().split('\n');
    expect(lines[0]).toBe('priority rules, first match wins (over fragment ids and tensor names):');
    expect(lines[1]).toMatch(/^ {2}background +\*\.bias +--priority$/);
    expect(lines[4]).toMatch(/^ {2}critical +\*:__header__ +a loader reads the header/);
    expect(lines).toContainEqual(
      expect.stringMatching(
        /^ {2}background 0\.500 {2}model-00002-of-00002\.safetensors:model\.layers\.1\.mlp\.up_proj\.bias {2}\(\*\.bias\)$/,
      ),
    );
    expect(lines).toContainEqual(
      expect.stringMatching(/^ {2}high +0\.250 .*layers\.2\.self_attn\.q_proj\.weight {2}\(no rule\)$/),
    );
  });

  it('works from the built binary, where the GGUF parser is a chunk of its own', async () => {
    const files = modelFiles();
    await writeModel(dir, files);
    const child = spawnCli(['manifest', 'create', dir, '--base-url', 'https://x.example/', '--tensors']);
    const { code, stdout, stderr } = await child.done;
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const ids = (JSON.parse(stdout) as { fragments: Written[] }).fragments.map((f) => f.id ?? f.path);
    expect(ids).toContain('gguf/tiny-Q8_0.gguf:blk.1.attn_q.weight');
    expect(ids).toContain('model-00001-of-00002.safetensors:model.embed_tokens.weight');
  });

  it('refuses a bad --priority rule as a usage error', async () => {
    await writeModel(dir);
    const { code, stderr } = await create('--tensors', '--priority', 'urgent=*');
    expect(code).toBe(2);
    expect(stderr.split('\n')[0]).toBe(
      'fragfetch: --priority: invalid priority rule "urgent=*": expected CLASS=GLOB, CLASS one of critical, high, normal, low, background',
    );
  });

  it('mirror reassembles every file byte for byte from the tensor fragments', async () => {
    const files = modelFiles();
    await writeModel(dir, files);
    const h: Harness = await harness();
    try {
      h.cdn.mount('/m', dir);
      const manifest = join(out, 'm.json');
      const made = await runCli([
        'manifest',
        'create',
        dir,
        '--base-url',
        h.cdn.url('/m/'),
        '--tensors',
        '-o',
        manifest,
      ]);
      expect(made.code).toBe(0);
      expect(made.stderr).toMatch(/^wrote .*m\.json: 18 fragments, /);
      const target = join(out, 'mirror');
      const result = await runCli([
        'mirror',
        manifest,
        target,
        '--cache',
        h.cacheDir,
        '--no-progress',
        '--quiet',
      ]);
      expect(result.stderr).not.toContain('failed');
      expect(result.code).toBe(0);
      for (const [path, data] of Object.entries(files)) {
        expect((await readFile(join(target, ...path.split('/')))).equals(data)).toBe(true);
      }
    } finally {
      await h.close();
    }
  });
});

describe('manifest create --tensors refuses malformed files: exit 2, one line, nothing written', () => {
  const cases: [string, Buffer, RegExp][] = [
    [
      'huge.safetensors',
      withHeader(Buffer.from('{}'), [], 1n << 30n),
      /^huge\.safetensors: not a safetensors file: it claims a 1073741824-byte header/,
    ],
    [
      'past.safetensors',
      withHeader(Buffer.from('{}'), [], 64n),
      /^past\.safetensors: not a safetensors file: its 64-byte header runs past/,
    ],
    [
      'text.safetensors',
      withHeader(Buffer.from('not json')),
      /^text\.safetensors: not a safetensors file: its header is not JSON$/,
    ],
    [
      'magic.gguf',
      Buffer.from('GGML\x03\x00\x00\x00'.padEnd(64, '\0'), 'latin1'),
      /^magic\.gguf: not a valid GGUF file: not starting with GGUF magic number$/,
    ],
    [
      'v9.gguf',
      Buffer.from('GGUF\x09\x00\x00\x00'.padEnd(64, '\0'), 'latin1'),
      /^v9\.gguf: not a valid GGUF file: unsupported version "9"$/,
    ],
  ];
  for (const [name, data, message] of cases) {
    it(name, async () => {
      await writeModel(dir, { 'ok.safetensors': safetensors([]), [name]: data });
      const manifest = join(out, 'm.json');
      const result = await create('--tensors', '-o', manifest);
      expect(result.code).toBe(2);
      expect(result.stdout).toBe('');
      const lines = result.stderr.trimEnd().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(new RegExp(`^fragfetch: ${message.source.slice(1)}`));
      await expect(access(manifest)).rejects.toThrow();
    });
  }

  it('an index that names a tensor its shard does not have', async () => {
    const files = modelFiles();
    const index = JSON.parse(files['model.safetensors.index.json']!.toString()) as {
      weight_map: Record<string, string>;
    };
    index.weight_map['model.layers.9.ghost'] = 'model-00002-of-00002.safetensors';
    files['model.safetensors.index.json'] = Buffer.from(JSON.stringify(index));
    await writeModel(dir, files);
    const result = await create('--tensors');
    expect(result.code).toBe(2);
    expect(result.stderr).toBe(
      'fragfetch: model.safetensors.index.json: says "model.layers.9.ghost" is in model-00002-of-00002.safetensors, ' +
        'whose header has no such tensor\n',
    );
  });

  it('an index that names a shard that is not there', async () => {
    const files = modelFiles();
    delete files['model-00002-of-00002.safetensors'];
    await writeModel(dir, files);
    const result = await create('--tensors');
    expect(result.code).toBe(2);
    expect(result.stderr).toBe(
      'fragfetch: model.safetensors.index.json: names shard model-00002-of-00002.safetensors, which is not in the folder\n',
    );
  });
});
