/**
 * The progress displays in-process, on fake timers: how often they draw (never more than ~10 times a
 * second, however many bytes arrive), what they draw, and which one a run gets.
 */
import { Chalk } from 'chalk';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { FetchPlan } from '../../src/fetch/engine.js';
import type { Fragment } from '../../src/manifest/fragment.js';
import { parseManifest } from '../../src/manifest/parse.js';
import type { CliIO } from '../../src/cli/io.js';
import { observersFor } from '../../src/cli/observers.js';
import type { TransferFlags } from '../../src/cli/options.js';
import { fitText, fragmentLine, overallLine, ProgressBars } from '../../src/cli/progress-bars.js';
import { PROGRESS_LINE_INTERVAL_MS, ProgressLine, progressLine } from '../../src/cli/progress-line.js';
import { percentOf, ProgressState } from '../../src/cli/progress-state.js';
import { ANSI, plain } from './run-bin.js';

const MiB = 1024 * 1024;

function fragments(sizes: (number | undefined)[]): Fragment[] {
  return parseManifest(
    {
      version: 1,
      baseUrls: ['https://cdn.example.com/m/'],
      fragments: sizes.map((size, i) => ({
        id: `frag-${i}`,
        path: `f${i}.bin`,
        ...(size === undefined ? {} : { size }),
      })),
    },
    'test.json',
  ).fragments;
}

function planOf(all: Fragment[], cached: Fragment[] = []): FetchPlan {
  const hits = new Map(
    cached.map((f) => [f, { key: f.id, integrity: '', size: f.size ?? 0, path: '', metadata: undefined }]),
  );
  const missing = all.filter((f) => !hits.has(f));
  return {
    ordered: all,
    cached: hits,
    missing,
    missingBytes: missing.reduce((sum, f) => sum + (f.size ?? 0), 0),
  };
}

/** A terminal as cli-progress sees one: write, isTTY, columns. */
function fakeTerminal(columns = 100) {
  const writes: string[] = [];
  return {
    writes,
    stream: {
      isTTY: true,
      columns,
      write: (text: string) => {
        writes.push(text);
        return true;
      },
    },
  };
}

const URL = 'https://cdn.example.com/m/f.bin';
const noColor = new Chalk({ level: 0 });

beforeEach(() => {
  vi.useFakeTimers({
    toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date', 'performance'],
  });
});
afterEach(() => {
  vi.useRealTimers();
});

describe('ProgressBars (a terminal)', () => {
  it('redraws at most ~10 times a second however many byte events arrive', async () => {
    const [big, small] = fragments([64 * MiB, 8 * MiB]) as [Fragment, Fragment];
    const { writes, stream } = fakeTerminal();
    const bars = new ProgressBars({ stream, env: {}, chalk: noColor });
    bars.planned(planOf([big, small]));
    const before = writes.length;
    // 2 s of a fast download: 20,000 chunks of 4 KiB, every 0.1 ms.
    for (let i = 0; i < 20_000; i++) {
      bars.bytes(i % 2 ? big : small, URL, 4096);
      await vi.advanceTimersByTimeAsync(0.1);
    }
    const frames = writes.slice(before).filter((text) => text.includes('fragments')).length;
    expect(frames).toBeGreaterThanOrEqual(10);
    expect(frames).toBeLessThanOrEqual(22);
    bars.stop();
  });

  it('shows the run and the largest fragments in flight (at most four), then takes it all down', async () => {
    const all = fragments([1 * MiB, 6 * MiB, 2 * MiB, 5 * MiB, 3 * MiB, 4 * MiB, 1 * MiB]);
    const { writes, stream } = fakeTerminal(120);
    const bars = new ProgressBars({ stream, env: {}, chalk: noColor });
    bars.planned(planOf(all, [all[6]!]));
    bars.settled(all[6]!, 'cached');
    for (const f of all.slice(0, 6)) bars.bytes(f, URL, MiB / 2);
    await vi.advanceTimersByTimeAsync(250);
    const screen = plain(writes.join(''));
    expect(screen).toMatch(/1\/7 fragments {2}1 cached/);
    // Larger first: frag-1 (6 MiB), frag-3 (5), frag-5 (4), frag-4 (3); the 1 and 2 MiB ones wait.
    const shown = [...screen.matchAll(/^ {2}(frag-\d)/gm)].map((m) => m[1]);
    expect(new Set(shown.slice(-4))).toEqual(new Set(['frag-1', 'frag-3', 'frag-5', 'frag-4']));
    expect(shown).not.toContain('frag-0');
    bars.stop();
    const after = writes.join('');
    expect(after).toContain('\x1b[?25h');
    // Stopped: no more drawing.
    const count = writes.length;
    await vi.advanceTimersByTimeAsync(1000);
    expect(writes.length).toBe(count);
  });

  it('prints --verbose lines above the bars, whole', async () => {
    const [f] = fragments([MiB]) as [Fragment];
    const { writes, stream } = fakeTerminal();
    const bars = new ProgressBars({ stream, env: {}, chalk: noColor });
    bars.planned(planOf([f]));
    bars.log('GET https://cdn.example.com/m/f0.bin → 200 1.0 MiB 12 ms\n');
    await vi.advanceTimersByTimeAsync(200);
    bars.stop();
    expect(writes.join('')).toContain('GET https://cdn.example.com/m/f0.bin → 200 1.0 MiB 12 ms\n');
  });

  it('draws nothing when every fragment is cached', () => {
    const all = fragments([MiB]);
    const { writes, stream } = fakeTerminal();
    const bars = new ProgressBars({ stream, env: {}, chalk: noColor });
    bars.planned(planOf(all, all));
    bars.stop();
    expect(writes).toEqual([]);
  });
});

describe('bar lines', () => {
  const snapshot = {
    fragmentsTotal: 16,
    fragmentsDone: 9,
    cacheHits: 3,
    failed: 1,
    retries: 2,
    bytesTotal: 256 * MiB,
    bytesDone: 148 * MiB,
    rate: 41.7 * MiB,
    etaMs: 2600,
    inFlight: [],
    endpoints: [],
  };

  it('has bytes, percent, bandwidth, ETA, fragments and cache hits', () => {
    expect(overallLine(snapshot, 160, noColor)).toBe(
      `${'█'.repeat(23)}${'░'.repeat(17)}   57%  148.0/256.0 MiB  41.7 MiB/s  ETA 2.6 s  9/16 fragments  3 cached  1 failed  2 retries`,
    );
  });

  it('fits any width, dropping the least telling numbers first', () => {
    for (let width = 20; width <= 200; width++) {
      const line = overallLine(snapshot, width, noColor);
      expect(line.length, `width ${width}`).toBeLessThanOrEqual(width);
    }
    // An 80-column terminal (79 usable) keeps every number, the cache hits included.
    expect(overallLine({ ...snapshot, failed: 0, retries: 0 }, 79, noColor)).toMatch(
      /^[█░]{6,} {3}57% {2}148\.0\/256\.0 MiB {2}41\.7 MiB\/s {2}ETA 2\.6 s {2}9\/16 fragments {2}3 cached$/,
    );
    // Narrower, the least telling go first.
    expect(overallLine(snapshot, 60, noColor)).toMatch(
      /^[█░]{6,} {3}57% {2}148\.0\/256\.0 MiB {2}41\.7 MiB\/s {2}ETA 2\.6 s$/,
    );
    const [f] = fragments([64 * MiB]) as [Fragment];
    for (let width = 10; width <= 120; width++) {
      expect(fragmentLine({ fragment: f, bytes: 10 * MiB }, 6, width, noColor).length).toBeLessThanOrEqual(
        width,
      );
    }
  });

  it('cuts a long fragment id in the middle, keeping the layer number and the end', () => {
    const [f] = fragments([64 * MiB]) as [Fragment];
    const tensor = { ...f, id: 'model.layers.12.self_attn.q_proj.weight' };
    expect(fragmentLine({ fragment: tensor, bytes: 10 * MiB }, 24, 100, noColor)).toMatch(
      /^ {2}model\.layers\.12…j\.weight {2}[█░]+ {3}15%/,
    );
    expect(fitText('model-00001-of-00004.safetensors#1048576', 24)).toBe('model-00001-…ors#1048576');
    expect(fitText('abcdefghijklmnopqrstuvwxyz', 11)).toBe('abcde…vwxyz');
    for (let width = 0; width <= 40; width++) {
      const cut = fitText('model.layers.12.self_attn.q_proj.weight', width);
      expect(cut.length, `width ${width}`).toBe(Math.min(width, 39));
    }
  });

  it('is coloured only through the chalk it is given', () => {
    expect(overallLine(snapshot, 160, noColor)).not.toMatch(ANSI);
    expect(overallLine(snapshot, 160, new Chalk({ level: 1 }))).toMatch(ANSI);
  });
});

describe('ProgressState', () => {
  it("shows each mirror's rate over the window and its errors, only when there is more than one", () => {
    const [a] = fragments([64 * MiB]) as [Fragment];
    let now = 0;
    const state = new ProgressState(() => now);
    state.planned(planOf([a]));
    state.bytes(a, 'https://fast.example/m/f0.bin', 8 * MiB);
    now = 1000;
    expect(state.snapshot().endpoints).toEqual([]);
    state.bytes(a, 'https://slow.example/m/f0.bin', MiB);
    state.bytes(a, 'https://fast.example/m/f0.bin', 8 * MiB);
    const error = new Error('reset');
    state.request({
      fragment: a,
      url: 'https://slow.example/m/f0.bin',
      status: undefined,
      range: undefined,
      bytes: 0,
      ms: 1,
      error,
    });
    now = 2000;
    const s = state.snapshot();
    expect(s.endpoints).toEqual([
      { url: 'https://fast.example', rate: 8 * MiB, errors: 0 },
      { url: 'https://slow.example', rate: MiB / 2, errors: 1 },
    ]);
    expect(progressLine(s)).toMatch(
      /; https:\/\/fast\.example 8\.0 MiB\/s, https:\/\/slow\.example 512\.0 KiB\/s \(1 error\)$/,
    );
  });

  it('counts settled fragments whole, in-flight ones as far as they got, and 100% only when done', () => {
    const [a, b] = fragments([1000, 3000]) as [Fragment, Fragment];
    let now = 0;
    const state = new ProgressState(() => now);
    state.planned(planOf([a, b]));
    state.bytes(a, URL, 600);
    now = 1000;
    expect(state.snapshot()).toMatchObject({ bytesDone: 600, bytesTotal: 4000, fragmentsDone: 0, rate: 600 });
    state.bytes(a, URL, 400);
    state.settled(a, 'downloaded');
    state.bytes(b, URL, 2999);
    now = 2000;
    const s = state.snapshot();
    expect(s).toMatchObject({ bytesDone: 3999, fragmentsDone: 1 });
    expect(percentOf(s.bytesDone, s.bytesTotal)).toBe(99);
    expect(s.etaMs).toBeGreaterThan(0);
    state.bytes(b, URL, 1);
    state.settled(b, 'downloaded');
    const done = state.snapshot();
    expect(percentOf(done.bytesDone, done.bytesTotal)).toBe(100);
    expect(done.etaMs).toBe(0);
  });

  it('smooths the rate and ETA over a bursty server (nginx limit_rate: 1 s at 2 MiB/s, 1 s idle)', () => {
    const [a] = fragments([64 * MiB]) as [Fragment];
    let now = 0;
    const state = new ProgressState(() => now);
    state.planned(planOf([a]));
    const rates: number[] = [];
    const etas: number[] = [];
    for (let tick = 1; tick <= 400; tick++) {
      now = tick * 50;
      // Bursts: 2 MiB/s in even seconds, nothing in odd ones; 1 MiB/s on average.
      if (Math.floor((now - 1) / 1000) % 2 === 0) state.bytes(a, URL, (2 * MiB) / 20);
      // A display draws a few times a second; the first 6 s only fill the window.
      if (tick % 5 === 0) {
        const s = state.snapshot();
        if (now > 6000) {
          rates.push(s.rate);
          etas.push(s.etaMs!);
        }
      }
    }
    expect(rates.length).toBeGreaterThan(20);
    for (const rate of rates) expect(rate / MiB).toBeGreaterThan(0.75);
    for (const rate of rates) expect(rate / MiB).toBeLessThan(1.25);
    // The ETA goes down steadily: never up by more than a quarter between two draws.
    for (let i = 1; i < etas.length; i++) expect(etas[i]!).toBeLessThan(etas[i - 1]! * 1.25);
  });

  it('drops a failed fragment from the total and counts retries', () => {
    const [a, b] = fragments([1000, 1000]) as [Fragment, Fragment];
    const state = new ProgressState(() => 0);
    state.planned(planOf([a, b]));
    state.retry();
    state.settled(b, 'failed');
    expect(state.snapshot()).toMatchObject({ bytesTotal: 1000, failed: 1, retries: 1, fragmentsDone: 1 });
  });
});

describe('ProgressLine (a pipe)', () => {
  it('writes one plain line every 5 s while there is something to download', async () => {
    const lines: string[] = [];
    const [a, b] = fragments([4 * MiB, 4 * MiB]) as [Fragment, Fragment];
    const progress = new ProgressLine((line) => lines.push(line));
    progress.planned(planOf([a, b], [b]));
    progress.settled(b, 'cached');
    progress.bytes(a, URL, MiB);
    await vi.advanceTimersByTimeAsync(PROGRESS_LINE_INTERVAL_MS - 1);
    expect(lines).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      /^fragfetch: 1\/2 fragments \(1 cached\), 1\.0 MiB of 4\.0 MiB \(25%\), \S+ \S*B\/s, ETA .+\n$/,
    );
    await vi.advanceTimersByTimeAsync(2 * PROGRESS_LINE_INTERVAL_MS);
    expect(lines).toHaveLength(3);
    progress.stop();
    await vi.advanceTimersByTimeAsync(3 * PROGRESS_LINE_INTERVAL_MS);
    expect(lines).toHaveLength(3);
    for (const line of lines) {
      expect(line).not.toMatch(ANSI);
      expect(line).not.toContain('\r');
    }
  });
});

describe('observersFor', () => {
  function io(isTTY: boolean) {
    const err: string[] = [];
    const cliIO: CliIO = {
      stdout: { write: () => true },
      stderr: { write: (text: string) => err.push(text), isTTY, columns: 100 },
      env: {},
      signal: new AbortController().signal,
    };
    return { err, cliIO };
  }
  const flags = (extra: Partial<TransferFlags>): TransferFlags => ({
    concurrency: 1,
    maxConnections: 64,
    endpointOrder: 'listed',
    retries: 0,
    stallTimeout: 1,
    timeout: 1,
    chunkSize: 1,
    splitThreshold: 1,
    connectionsPerObject: 1,
    progress: true,
    ...extra,
  });

  it('gives --quiet and --no-progress no display at all', async () => {
    for (const extra of [{ quiet: true }, { progress: false }]) {
      const { err, cliIO } = io(false);
      const { observer, stop } = await observersFor(flags(extra), cliIO);
      expect(observer.planned).toBeUndefined();
      expect(observer.bytes).toBeUndefined();
      expect(observer.request).toBeUndefined();
      await vi.advanceTimersByTimeAsync(20_000);
      stop();
      expect(err).toEqual([]);
    }
  });

  it('writes --verbose request lines to stderr even with --quiet', async () => {
    const { err, cliIO } = io(false);
    const [f] = fragments([100]) as [Fragment];
    const { observer } = await observersFor(flags({ quiet: true, verbose: true }), cliIO);
    observer.request?.({
      fragment: f,
      url: 'https://u:p@cdn.example.com/m/f0.bin',
      status: 206,
      range: 'bytes=0-99',
      bytes: 100,
      ms: 12.4,
    });
    expect(err).toEqual(['GET https://cdn.example.com/m/f0.bin bytes=0-99 → 206 100 B 12 ms\n']);
  });
});
