import { afterEach, beforeEach, expect, it } from 'vitest';
import { checkManifest } from '../../src/check/run.js';
import { fetchManifest } from '../../src/fetch/engine.js';
import { randomBytesSeeded, sriOf } from '../support/fixtures.js';
import { type Harness, harness } from '../support/harness.js';

let h: Harness;
beforeEach(async () => {
  h = await harness();
  for (const name of ['a', 'b']) h.cdn.set(`/m/${name}.bin`, randomBytesSeeded(1000, name));
  // a is asked to come back in a second; b must not wait that second for a's request slot.
  h.cdn.fault('/m/a.bin', { kind: 'status', status: 503, headers: { 'retry-after': '1' } });
});
afterEach(async () => {
  await h.close();
});

const fragments = ['a', 'b'].map((name) => {
  const body = randomBytesSeeded(1000, name);
  return { path: `${name}.bin`, size: body.length, integrity: sriOf(body) };
});
/** The log in arrival order, once the last response has closed. */
async function arrivals(): Promise<string[]> {
  await h.cdn.idle();
  return [...h.cdn.requests].sort((x, y) => x.seq - y.seq).map((r) => `${r.path} ${r.status}`);
}

it('gives a request slot back during a backoff: with -j 1, b goes while a waits out its Retry-After', async () => {
  const report = await fetchManifest(h.manifest(fragments), { cacheDir: h.cacheDir, concurrency: 1 });
  expect(report.ok).toBe(true);
  expect(await arrivals()).toEqual(['/m/a.bin 503', '/m/b.bin 200', '/m/a.bin 200']);
});

it('does the same for check’s probes, once the endpoint’s first probe has opened its gate', async () => {
  const first = randomBytesSeeded(1000, 'first');
  h.cdn.set('/m/first.bin', first);
  const manifest = h.manifest([
    { path: 'first.bin', size: first.length, integrity: sriOf(first) },
    ...fragments,
  ]);
  const report = await checkManifest(manifest, { concurrency: 1 });
  expect(report.ok).toBe(true);
  expect((await arrivals()).map((a) => a.split(' ')[0])).toEqual([
    '/m/first.bin',
    '/m/a.bin',
    '/m/b.bin',
    '/m/a.bin',
  ]);
});

it('holds no slot through a backoff: with -j 1, b is answered while a waits out a Retry-After of a minute', async () => {
  // Were a's slot held through its wait, b could start only after it: past the test's timeout.
  h.cdn.reset();
  h.cdn.fault('/m/a.bin', { kind: 'status', status: 503, headers: { 'retry-after': '3600' } });
  const controller = new AbortController();
  const run = fetchManifest(h.manifest(fragments), {
    cacheDir: h.cacheDir,
    concurrency: 1,
    signal: controller.signal,
  });
  await h.cdn.until(() => h.cdn.requests.some((r) => r.path === '/m/b.bin' && r.status === 200));
  controller.abort(new Error('stop'));
  const report = await run;
  expect(report.interrupted).toBe(true);
  expect(await arrivals()).toEqual(['/m/a.bin 503', '/m/b.bin 200']);
});

it('a small object cut short goes on in the slot of its first request, and gives it back', async () => {
  // The short path hands its answer over with the slot it holds: the download releases that slot
  // for the backoff (else, with -j 1, nothing could go on) and resumes after the bytes it kept.
  h.cdn.reset();
  h.cdn.fault('/m/a.bin', { kind: 'truncate', afterBytes: 400 });
  const report = await fetchManifest(h.manifest(fragments), { cacheDir: h.cacheDir, concurrency: 1 });
  expect(report.ok).toBe(true);
  expect(await arrivals()).toEqual(['/m/a.bin 200', '/m/b.bin 200', '/m/a.bin 206']);
  expect(h.cdn.requestsFor('/m/a.bin')[1]?.range).toMatch(/^bytes=[1-9]\d*-999$/);
});
