/**
 * Regenerates fixtures/demo/manifest.json (run: npm run build && node dist/scripts/make-demo-manifest.js).
 * Only needed when the demo's fragments change.
 */
import { writeFile } from 'node:fs/promises';
import { randomBytesSeeded, sriOf } from '../test/support/fixtures.js';

const KiB = 1024;
const MiB = 1024 * KiB;

const fragments: Record<string, unknown>[] = [
  { id: 'tokenizer', path: 'tokenizer.json', size: 64 * KiB, priority: 'critical', importance: 1 },
  { id: 'embed', path: 'embed.bin', size: 4 * MiB, priority: 'critical', importance: 0.9 },
  { id: 'model', path: 'model.bin', size: 40 * MiB, priority: 'high' },
  ...[0, 1, 2, 3].map((i) => ({
    id: `layer.${i}`,
    path: 'weights.bin',
    offset: i * 2 * MiB,
    size: 2 * MiB,
    priority: 'normal',
    importance: 1 - i / 4,
  })),
  ...Array.from({ length: 8 }, (_, i) => ({
    path: `shards/shard-0${i}.bin`,
    size: 256 * KiB,
    priority: 'low',
  })),
  { path: 'LICENSE.txt', size: 2 * KiB, priority: 'background' },
];

for (const fragment of fragments) {
  const path = fragment.path as string;
  const offset = (fragment.offset as number | undefined) ?? 0;
  const size = fragment.size as number;
  const extent = Math.max(
    ...fragments.filter((f) => f.path === path).map((f) => ((f.offset as number) ?? 0) + (f.size as number)),
  );
  fragment.integrity = sriOf(randomBytesSeeded(extent, path).subarray(offset, offset + size));
}

const manifest = { version: 1, name: 'tiny-llm-demo', fragments };
await writeFile(
  new URL('../../fixtures/demo/manifest.json', import.meta.url),
  `${JSON.stringify(manifest, null, 2)}\n`,
);
console.log(`wrote fixtures/demo/manifest.json: ${fragments.length} fragments`);
