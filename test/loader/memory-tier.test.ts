import { describe, expect, it } from 'vitest';
import { createLoader } from '../../src/index.js';
import { MemoryTier } from '../../src/loader/memory-tier.js';
import { randomBytesSeeded, sriOf } from '../support/fixtures.js';
import { harness } from '../support/harness.js';

describe('MemoryTier', () => {
  it('evicts the least recently used within its capacity, and keeps out what is over an eighth of it', () => {
    const tier = new MemoryTier(800);
    tier.set('a', Buffer.alloc(100));
    tier.set('b', Buffer.alloc(100));
    tier.set('huge', Buffer.alloc(101));
    expect(tier.get('huge')).toBeUndefined();
    for (let i = 0; i < 6; i++) tier.set(`x${i}`, Buffer.alloc(100));
    expect(tier.get('a')).toBeDefined(); // a is now the most recent
    tier.set('y', Buffer.alloc(100));
    expect(tier.get('b')).toBeUndefined();
    expect(tier.get('a')).toBeDefined();
    expect(tier.stats).toEqual({ hits: 2, misses: 2, evictions: 1, bytes: 800 });
  });
});

describe('the loader’s memory tier', () => {
  it('serves a fragment read again from memory, counted apart from the disk cache', async () => {
    const h = await harness();
    try {
      const body = randomBytesSeeded(10_000, 'tier');
      h.cdn.set('/m/a.bin', body);
      const manifest = h.manifest([{ path: 'a.bin', size: body.length, integrity: sriOf(body) }]);
      const loader = createLoader({ cache: h.cacheDir, memoryCacheSize: 1024 * 1024 });
      for (let round = 0; round < 3; round++)
        for await (const fragment of loader.stream(manifest))
          expect((await fragment.bytes()).equals(body)).toBe(true);
      expect(loader.memory.stats).toMatchObject({ hits: 2, misses: 1, bytes: body.length });
      await h.cdn.idle();
      expect(h.cdn.requestsFor('/m/a.bin')).toHaveLength(1);
    } finally {
      await h.close();
    }
  });
});
