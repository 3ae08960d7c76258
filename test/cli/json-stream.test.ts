import { describe, expect, it } from 'vitest';
import { JsonList, type JsonOutput, writeJsonDocument } from '../../src/cli/json-stream.js';

/** An output that takes everything at once, as a file does; each chunk must be whole UTF-8. */
function sink(): JsonOutput & { text: string; chunks: number } {
  const decoder = new TextDecoder('utf-8', { fatal: true });
  const out = {
    text: '',
    chunks: 0,
    write: (chunk: Uint8Array) => {
      out.text += decoder.decode(chunk);
      out.chunks++;
      return true;
    },
  };
  return out;
}

const asJson = <T>(items: T[]) =>
  new JsonList(items, (item, indent) => JSON.stringify(item, null, 2).replaceAll('\n', `\n${indent}`));

describe('writeJsonDocument', () => {
  it('writes what JSON.stringify(…, null, 2) writes, lists at any depth made as they are written', async () => {
    const items = [
      { a: 1, b: ['x', { c: null }] },
      { a: 2, b: [] },
    ];
    const paths = ['p/1', 'p/"2"', 'p/\n3'];
    const document = {
      dryRun: true,
      empty: {},
      none: undefined,
      download: asJson(items),
      nothing: asJson([]),
      mirror: { dir: '/d', write: asJson(paths), deeper: { list: asJson(items), n: 3 }, delete: [] },
    };
    const plain = {
      dryRun: true,
      empty: {},
      download: items,
      nothing: [],
      mirror: { dir: '/d', write: paths, deeper: { list: items, n: 3 }, delete: [] },
    };
    const out = sink();
    await writeJsonDocument(out, document);
    expect(out.text).toBe(`${JSON.stringify(plain, null, 2)}\n`);
  });

  it('separates the items of a list at and around the ends of its batches as JSON.stringify does', async () => {
    for (const length of [1, 2, 31, 32, 33, 63, 64, 65, 97]) {
      const items = Array.from({ length }, (_, i) => ({ n: i }));
      const out = sink();
      await writeJsonDocument(out, { list: asJson(items), after: 1 });
      expect(out.text, `${length} items`).toBe(`${JSON.stringify({ list: items, after: 1 }, null, 2)}\n`);
    }
  });

  it('writes an empty document as {}', async () => {
    const out = sink();
    await writeJsonDocument(out, { gone: undefined });
    expect(out.text).toBe('{}\n');
  });

  it('writes a long list in chunks of about a megabyte, none cut inside a character', async () => {
    const items = Array.from({ length: 60_000 }, (_, i) => `fragment ${i} é€😀`);
    const out = sink();
    await writeJsonDocument(out, { download: asJson(items) });
    expect(out.text).toBe(`${JSON.stringify({ download: items }, null, 2)}\n`);
    expect(out.chunks).toBeGreaterThan(1);
  });

  it('writes each chunk as it fills, long items or short: none held until the end', async () => {
    let formatted = 0;
    const formattedAtWrite: number[] = [];
    const out = sink();
    const write = out.write;
    out.write = (chunk) => {
      formattedAtWrite.push(formatted);
      return write(chunk);
    };
    for (const size of [5000, 40]) {
      formatted = 0;
      formattedAtWrite.length = 0;
      const count = Math.ceil((8 << 20) / size);
      const items = Array.from({ length: count }, (_, i) => `${i}`.padEnd(size, 'x'));
      const list = new JsonList(items, (item) => {
        formatted++;
        return JSON.stringify(item);
      });
      await writeJsonDocument(out, { list });
      expect(formattedAtWrite.length).toBeGreaterThan(4);
      // The first megabyte is out before a quarter of the 8 MB are made.
      expect(formattedAtWrite[0]).toBeLessThan(count / 4);
    }
  });
});
