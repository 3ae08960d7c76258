import { describe, expect, it } from 'vitest';
import { Coverage } from '../../src/fetch/coverage.js';
import type { SegmentSink } from '../../src/fetch/segment.js';
import { SegmentWriter, WRITE_BATCH } from '../../src/fetch/segment-writer.js';
import { isFragfetchError } from '../../src/errors.js';
import { RateLimiter } from '../../src/net/rate-limit.js';
import type { DataFile } from '../../src/receive/data-file.js';
import { randomBytesSeeded } from '../support/fixtures.js';

/** A data file whose writes land only when the test lets them, recording each. */
class HeldFile implements DataFile {
  readonly bytes = Buffer.alloc(8 * WRITE_BATCH);
  readonly writes: { position: number; length: number }[] = [];
  readonly #waiting: (() => void)[] = [];
  fail: Error | undefined;

  writev(buffers: readonly Buffer[], position: number): Promise<{ bytesWritten: number }> {
    const length = buffers.reduce((sum, buffer) => sum + buffer.length, 0);
    this.writes.push({ position, length });
    return new Promise((resolve, reject) => {
      this.#waiting.push(() => {
        if (this.fail) return reject(this.fail);
        let at = position;
        for (const buffer of buffers) at += buffer.copy(this.bytes, at);
        resolve({ bytesWritten: length });
      });
    });
  }

  /** Lets the oldest pending write land; resolves once its completion has been handled. */
  async land(): Promise<void> {
    const next = this.#waiting.shift();
    if (!next) throw new Error('no write pending');
    next();
    await new Promise((resolve) => setImmediate(resolve));
  }

  get pending(): number {
    return this.#waiting.length;
  }

  async read(): Promise<{ bytesRead: number }> {
    return { bytesRead: 0 };
  }
  async truncate(): Promise<void> {}
  async close(): Promise<void> {}
}

function sinkOf(file: DataFile) {
  const told = { bytes: 0, written: 0, hashed: [] as [number, number][] };
  const sink: SegmentSink = {
    file,
    coverage: new Coverage(),
    hasher: {
      written: (offset, length) => told.hashed.push([offset, length]),
      resumeFrom: () => {},
      digests: async () => new Map(),
      reset: () => {},
      dispose: () => {},
    },
    limiter: undefined,
    signal: new AbortController().signal,
    onBytes: (bytes) => (told.bytes += bytes),
    onWritten: (bytes) => (told.written += bytes),
  };
  return { sink, told };
}

const CHUNK = 64 * 1024;

/** Hands `data` to the writer in CHUNK pieces from `from` while it takes them; returns where it stopped. */
function feed(writer: SegmentWriter, data: Buffer, from: number): number {
  let at = from;
  while (at < data.length) {
    const more = writer.data(data.subarray(at, at + CHUNK));
    at += Math.min(CHUNK, data.length - at);
    if (!more) break;
  }
  return at;
}

describe('SegmentWriter', () => {
  it('writes batches of WRITE_BATCH, gathers the next while one is written, and pauses only when both are full', async () => {
    const file = new HeldFile();
    const { sink, told } = sinkOf(file);
    const writer = new SegmentWriter({ skip: 0, start: 100, windowEnd: undefined }, sink, 'http://x/a');
    let resumed = 0;
    writer.attach(() => resumed++);
    const data = randomBytesSeeded(3 * WRITE_BATCH + 1000, 3);

    // The first batch goes to disk; the second gathers behind it until it is full too.
    let at = feed(writer, data, 0);
    expect(file.writes).toEqual([{ position: 100, length: WRITE_BATCH }]);
    expect(at).toBe(2 * WRITE_BATCH);
    expect(told.written).toBe(0);
    expect(resumed).toBe(0);

    // The write lands: the full second batch is written at once and the body resumes.
    await file.land();
    expect(told.written).toBe(WRITE_BATCH);
    expect(sink.coverage.spans).toEqual([{ start: 100, end: 100 + WRITE_BATCH }]);
    expect(file.writes[1]).toEqual({ position: 100 + WRITE_BATCH, length: WRITE_BATCH });
    expect(resumed).toBe(1);

    // The third batch fills while the second is written: paused again, resumed when it lands.
    at = feed(writer, data, at);
    expect(at).toBe(3 * WRITE_BATCH);
    await file.land();
    expect(resumed).toBe(2);
    expect(file.writes).toHaveLength(3);
    at = feed(writer, data, at);
    expect(at).toBe(data.length);
    writer.end();
    // The rest waits for the write in flight: one write at a time, in order.
    expect(file.writes).toHaveLength(3);
    await file.land();
    await file.land();
    expect(await writer.done).toEqual({ bytes: data.length, overflow: false });
    expect(file.writes.map((write) => write.length)).toEqual([WRITE_BATCH, WRITE_BATCH, WRITE_BATCH, 1000]);
    expect(file.bytes.subarray(100, 100 + data.length).equals(data)).toBe(true);
    expect(told.hashed).toEqual(file.writes.map((write) => [write.position, write.length]));
    expect(told.bytes).toBe(data.length);
  });

  it('pauses the body while the rate limiter holds it, and resumes it after', async () => {
    const file = new HeldFile();
    const { sink } = sinkOf(file);
    // A clock that stands still: the burst (a quarter second, 250,000 bytes) is all there is.
    const limited = { ...sink, limiter: new RateLimiter(1_000_000, () => 0) };
    const writer = new SegmentWriter({ skip: 0, start: 0, windowEnd: undefined }, limited, 'http://x/a');
    let resume!: () => void;
    const resumed = new Promise<void>((resolve) => (resume = resolve));
    writer.attach(() => resume());
    const data = randomBytesSeeded(8 * CHUNK, 11);
    expect(feed(writer, data, 0)).toBe(4 * CHUNK);
    await resumed;
    expect(feed(writer, data, 4 * CHUNK)).toBe(5 * CHUNK);
  });

  it('skips the bytes before its window and drops those past it, saying so', async () => {
    const file = new HeldFile();
    const { sink, told } = sinkOf(file);
    const writer = new SegmentWriter({ skip: 70_000, start: 0, windowEnd: 100_000 }, sink, 'http://x/a');
    writer.attach(() => {});
    const data = randomBytesSeeded(300_000, 4);
    // Taking nothing more once past the window: the rest of the body is not the segment's.
    expect(feed(writer, data, 0)).toBe(3 * CHUNK);
    await file.land();
    expect(await writer.done).toEqual({ bytes: 100_000, overflow: true });
    expect(file.bytes.subarray(0, 100_000).equals(data.subarray(70_000, 170_000))).toBe(true);
    expect(told.bytes).toBe(100_000);
  });

  it('writes what arrived intact when the body fails, then fails as the network', async () => {
    const file = new HeldFile();
    const { sink } = sinkOf(file);
    const writer = new SegmentWriter({ skip: 0, start: 0, windowEnd: undefined }, sink, 'http://x/a');
    writer.attach(() => {});
    const data = randomBytesSeeded(WRITE_BATCH + 5000, 5);
    feed(writer, data, 0);
    writer.error(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }));
    await file.land();
    await file.land();
    const error = await writer.done.catch((caught: unknown) => caught);
    expect(isFragfetchError(error, 'ENETWORK')).toBe(true);
    expect(sink.coverage.spans).toEqual([{ start: 0, end: data.length }]);
    expect(file.pending).toBe(0);
  });

  it('fails as the disk when a write fails, and writes nothing after it', async () => {
    const file = new HeldFile();
    const { sink, told } = sinkOf(file);
    const writer = new SegmentWriter({ skip: 0, start: 0, windowEnd: undefined }, sink, 'http://x/a');
    writer.attach(() => {});
    feed(writer, randomBytesSeeded(2 * WRITE_BATCH, 6), 0);
    file.fail = Object.assign(new Error('no space left on device'), { code: 'ENOSPC' });
    await file.land();
    writer.end();
    const error = await writer.done.catch((caught: unknown) => caught);
    expect(isFragfetchError(error, 'ENOSPC')).toBe(true);
    expect(file.writes).toHaveLength(1);
    expect(told.written).toBe(0);
    expect(sink.coverage.size).toBe(0);
  });
});
