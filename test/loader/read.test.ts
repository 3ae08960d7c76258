import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import cacache from 'cacache';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLoader } from '../../src/index.js';
import { BIN } from '../support/cli.js';
import { randomBytesSeeded, sriOf } from '../support/fixtures.js';
import { type Harness, harness } from '../support/harness.js';

const MiB = 1024 * 1024;
const body = randomBytesSeeded(6 * MiB, 'read');
const fragment = { id: 'big', path: 'big.bin', size: body.length, integrity: sriOf(body) };
// Ranges of 512 KiB over 8 connections: they complete out of order, the stream must not.
const split = { splitThreshold: 1 * MiB, chunkSize: 512 * 1024, maxConnectionsPerObject: 8 };

let h: Harness;
beforeEach(async () => {
  h = await harness();
  h.cdn.set('/m/big.bin', body);
});
afterEach(async () => {
  await h.close();
});

describe('loader.read', () => {
  it('hands out the bytes in order while later ranges arrive first, and ends once verified', async () => {
    // The first range is the last to come.
    h.cdn.fault('/m/big.bin', { kind: 'delay', ms: 300 });
    const loader = createLoader({ cache: h.cacheDir, ...split });
    const events: string[] = [];
    loader.on('fragment', (_fragment, outcome) => events.push(outcome));
    const chunks: Buffer[] = [];
    let before = 0;
    for await (const chunk of loader.read(h.manifest([fragment]), 'big')) {
      if (events.length === 0) before++;
      chunks.push(chunk as Buffer);
    }
    expect(Buffer.concat(chunks).equals(body)).toBe(true);
    // Bytes were handed out before the fragment was done: it was read while it downloaded.
    expect(before).toBeGreaterThan(0);
    expect(events).toEqual(['downloaded']);
    await h.cdn.idle();
    expect(h.cdn.requestsFor('/m/big.bin').length).toBeGreaterThan(2);
    // The stream held at most its buffer (1 MiB), never the fragment.
    expect(Math.max(...chunks.map((c) => c.length))).toBeLessThanOrEqual(MiB);
  });

  it('yields overlapping windows with a stride, from the cache too', async () => {
    const small = body.subarray(0, 10_000);
    h.cdn.set('/m/s.bin', small);
    const loader = createLoader({ cache: h.cacheDir });
    const manifest = h.manifest([{ id: 's', path: 's.bin', size: small.length, integrity: sriOf(small) }]);
    for (let round = 0; round < 2; round++) {
      const got: Buffer[] = [];
      for await (const window of loader.read(manifest, 's', { window: 4096, stride: 3000 }))
        got.push(window as Buffer);
      // Windows at 0, 3000 and 6000; the last runs to the end, 4000 bytes.
      expect(got.map((w) => w.length)).toEqual([4096, 4096, 4000]);
      expect(got.map((w, i) => w.equals(small.subarray(i * 3000, i * 3000 + w.length)))).toEqual([
        true,
        true,
        true,
      ]);
    }
    await h.cdn.idle();
    expect(h.cdn.requestsFor('/m/s.bin')).toHaveLength(1);
  });

  it('errors with EINTEGRITY when the whole does not match, and caches nothing', async () => {
    const wrong = { ...fragment, integrity: sriOf(Buffer.from('something else')) };
    const loader = createLoader({ cache: h.cacheDir, ...split, retries: 0 });
    let received = 0;
    const error = await (async () => {
      for await (const chunk of loader.read(h.manifest([wrong]), 'big')) received += (chunk as Buffer).length;
    })().catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'EINTEGRITY' });
    expect(received).toBeLessThan(body.length + 1);
    const offline = await createLoader({ cache: h.cacheDir, cacheMode: 'offline' }).fetch(
      h.manifest([wrong]),
    );
    expect(offline.fragments.failed).toBe(1);
  });

  it('stops the download when the stream is given up, and caches nothing unverified', async () => {
    h.cdn.fault('/m/big.bin', { kind: 'stall', afterBytes: 600_000, ms: 600_000 }, { times: Infinity });
    const loader = createLoader({ cache: h.cacheDir, ...split });
    const stream = loader.read(h.manifest([fragment]), 'big');
    for await (const chunk of stream) {
      expect((chunk as Buffer).length).toBeGreaterThan(0);
      break;
    }
    expect(stream.destroyed).toBe(true);
    // 'close' comes once the download has wound down: nothing writes in the cache after it.
    if (!stream.closed) await new Promise((resolve) => stream.once('close', resolve));
    const partial = await cacache.ls(h.cacheDir);
    expect(partial).toEqual({});
  });

  it('open() reads into the caller’s one buffer, in order, to a verified end; close() stops it', async () => {
    h.cdn.fault('/m/big.bin', { kind: 'delay', ms: 300 });
    const loader = createLoader({ cache: h.cacheDir, ...split });
    const bytes = loader.open(h.manifest([fragment]), 'big');
    const buffer = Buffer.alloc(100_000);
    const hash = createHash('sha256');
    let reads = 0;
    for (let length = await bytes.read(buffer); length > 0; length = await bytes.read(buffer)) {
      hash.update(buffer.subarray(0, length));
      reads++;
    }
    expect(hash.digest('base64')).toBe(fragment.integrity.replace(/^sha256-/, ''));
    expect(bytes.position).toBe(body.length);
    expect(reads).toBeGreaterThanOrEqual(Math.ceil(body.length / buffer.length));
    await bytes.close();

    // Given up after its first read: the download stops, nothing unverified is cached.
    const cache = `${h.cacheDir}-closed`;
    h.cdn.fault('/m/big.bin', { kind: 'stall', afterBytes: 600_000, ms: 600_000 }, { times: Infinity });
    const stalled = createLoader({ cache, ...split }).open(h.manifest([fragment]), 'big');
    expect(await stalled.read(buffer)).toBeGreaterThan(0);
    await stalled.close();
    await expect(stalled.read(buffer)).rejects.toMatchObject({ code: 'EABORT' });
    expect(await cacache.ls(cache)).toEqual({});
  });

  it('refuses an id the manifest does not have', async () => {
    const stream = createLoader({ cache: h.cacheDir }).read(h.manifest([fragment]), 'nope');
    await expect(stream.toArray()).rejects.toMatchObject({ code: 'EUSAGE' });
  });
});

describe('fragfetch cat', () => {
  it('writes the fragment to stdout, and stops cleanly, exit 0, when the pipe closes', async () => {
    const manifest = await h.manifestFile([fragment]);
    const full = spawn(process.execPath, [
      BIN,
      'cat',
      manifest,
      'big',
      '--cache',
      h.cacheDir,
      '--chunk-size',
      '512KiB',
      '--split-threshold',
      '1MiB',
    ]);
    const out: Buffer[] = [];
    full.stdout.on('data', (chunk: Buffer) => out.push(chunk));
    const code = await new Promise((resolve) => full.on('close', (exit) => resolve(exit)));
    expect(code).toBe(0);
    expect(Buffer.concat(out).equals(body)).toBe(true);

    // `| head -c 100`: the reader closes its end after 100 bytes; fragfetch's own exit code is printed.
    const cache = `${h.cacheDir}-piped`;
    const script = `"${process.execPath}" "${BIN}" cat "${manifest}" big --cache "${cache}" | head -c 100 | wc -c; echo "\${PIPESTATUS[0]}"`;
    const head = spawn('bash', ['-c', script]);
    let text = '';
    head.stdout.on('data', (chunk: Buffer) => (text += chunk.toString()));
    await new Promise((resolve) => head.on('close', resolve));
    expect(text.trim().split(/\s+/)).toEqual(['100', '0']);
    // Nothing half-written entered the cache.
    expect(await cacache.ls(cache)).toEqual({});
  });

  it('writes all of it into a pipe whose reader holds off, as a slow `| sha256sum` does', async () => {
    // The reader waits before its first read: the pipe (64 KiB) fills, and every write meets a full
    // pipe until it drains. Node leaves stdout's pipe non-blocking, where a write fails with EAGAIN.
    const manifest = await h.manifestFile([fragment]);
    const script = `set -o pipefail; "${process.execPath}" "${BIN}" cat "${manifest}" big --cache "${h.cacheDir}" | { sleep 2; sha256sum; }`;
    const child = spawn('bash', ['-c', script]);
    let text = '';
    let errors = '';
    child.stdout.on('data', (chunk: Buffer) => (text += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (errors += chunk.toString()));
    const code = await new Promise((resolve) => child.on('close', (exit) => resolve(exit)));
    expect(errors).toBe('');
    expect(code).toBe(0);
    expect(text.split(' ')[0]).toBe(createHash('sha256').update(body).digest('hex'));
  });
});
