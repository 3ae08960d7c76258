import { describe, expect, it } from 'vitest';
import { compileGlob } from '../../src/manifest/glob.js';
import { assignPriorities, defaultRules, layerOf, parsePriorityRule } from '../../src/tensors/priority.js';

describe('globs', () => {
  it.each([
    ['*.bin', 'a.bin', true],
    ['*.bin', 'deep/er/a.bin', true],
    ['*.bin', 'a.bin.tmp', false],
    ['docs/*', 'docs/a.md', true],
    ['docs/*', 'docs/x/a.md', false],
    ['docs/**', 'docs/x/a.md', true],
    ['**/a.md', 'a.md', true],
    ['model-0000[12]-*', 'model-00002-of-00002.safetensors', true],
    ['model-0000[!12]-*', 'model-00002-of-00002.safetensors', false],
    ['*.{json,txt}', 'config.json', true],
    ['?.bin', 'ab.bin', false],
    ['a+b(1).bin', 'a+b(1).bin', true],
    ['*embed*', 'shards/m.safetensors:model.embed_tokens.weight', true],
  ])('%s against %s: %s', (pattern, text, expected) => {
    expect(compileGlob(pattern).matches(text)).toBe(expected);
  });

  it('refuses a glob that cannot be read', () => {
    expect(() => compileGlob('{a,b')).toThrow('invalid glob "{a,b": "{" without "}"');
    expect(() => compileGlob('')).toThrow('empty glob pattern');
  });
});

describe('priority rules', () => {
  it('reads the layer number of the common layouts', () => {
    expect(layerOf('model.layers.12.mlp.up_proj.weight')).toBe(12);
    expect(layerOf('blk.3.attn_q.weight')).toBe(3);
    expect(layerOf('transformer.h.7.attn.c_attn.weight')).toBe(7);
    expect(layerOf('encoder.layer.0.output.dense.weight')).toBe(0);
    expect(layerOf('model.embed_tokens.weight')).toBeUndefined();
    expect(layerOf('model.layers_norm.1.weight')).toBeUndefined();
  });

  it('first match wins, user rules before the defaults; importance falls with the layer', () => {
    const rules = [
      parsePriorityRule('low=*.bias'),
      parsePriorityRule('critical=*.layers.3.*'),
      ...defaultRules(),
    ];
    const items = [
      'model.layers.0.mlp.bias',
      'model.layers.0.mlp.weight',
      'model.layers.3.mlp.weight',
      'model.layers.1.mlp.weight',
      'model.layers.2.post_attention_layernorm.weight',
      'rope.freqs',
    ].map((tensor) => ({ id: `m.safetensors:${tensor}`, tensor }));
    expect(assignPriorities(items, rules).map(({ priority, importance }) => [priority, importance])).toEqual([
      ['low', 0.8],
      ['critical', 0.8],
      ['critical', 0.2],
      ['high', 0.6],
      ['critical', 0.4],
      ['normal', 1],
    ]);
  });

  it('refuses a rule without a known class or a glob', () => {
    for (const text of ['urgent=*', 'critical=', '*.bin', '=x']) {
      expect(() => parsePriorityRule(text)).toThrow(`invalid priority rule "${text}": expected CLASS=GLOB`);
    }
  });
});
