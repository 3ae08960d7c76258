/**
 * Body streaming for the test CDN: backpressure, nginx-like `limit_rate` pacing, and the faults that
 * act on the bytes (cut the connection, stall, flip a byte) at exact body offsets.
 */
import { once } from 'node:events';
import { createReadStream } from 'node:fs';
import { constants as h2 } from 'node:http2';
import { setTimeout as sleep } from 'node:timers/promises';
import type { CdnResponse } from './cdn-server.js';

/** How long a reset waits after the last byte it lets through (see the reset fault). */
const RESET_GRACE_MS = 30;

export type BodySource = Buffer | { file: string };

export type BodyFault =
  | { kind: 'reset'; afterBytes: number }
  | { kind: 'truncate'; afterBytes: number }
  | { kind: 'stall'; afterBytes: number; ms?: number }
  | { kind: 'corrupt'; at?: number };

export interface BodyPlan {
  source: BodySource;
  /** Object offset of the first byte sent. */
  start: number;
  length: number;
  /** Bytes per second for this response. */
  limitRate?: number;
  fault?: BodyFault;
}

export interface SentCounter {
  bytesSent: number;
  /** Set when a fault cut the response (on HTTP/2 the response may still look finished). */
  cut?: boolean;
  /** Called after each write the socket accepted, once `bytesSent` counts it. */
  onSent?(): void;
}

const CHUNK = 256 * 1024;

async function* read(source: BodySource, start: number, length: number, chunkSize: number) {
  if (length <= 0) return;
  if (Buffer.isBuffer(source)) {
    for (let at = start; at < start + length; at += chunkSize) {
      yield source.subarray(at, Math.min(at + chunkSize, start + length));
    }
    return;
  }
  // Never the whole file in memory: objects can be GiBs.
  const stream = createReadStream(source.file, { start, end: start + length - 1, highWaterMark: CHUNK });
  for await (const data of stream as AsyncIterable<Buffer>) {
    for (let at = 0; at < data.length; at += chunkSize) yield data.subarray(at, at + chunkSize);
  }
}

function flushHeaders(res: CdnResponse): void {
  // Http2ServerResponse has flushHeaders() too; @types/node 20 leaves it out.
  if ('stream' in res) (res as unknown as { flushHeaders(): void }).flushHeaders();
  else res.flushHeaders();
}

function untilAborted(signal: AbortSignal): Promise<never> {
  return new Promise((_, reject) => {
    if (signal.aborted) reject(signal.reason);
    else signal.addEventListener('abort', () => reject(signal.reason), { once: true });
  });
}

/**
 * Writes `plan` to `res` (headers already set) and ends it, unless a fault cuts it short. Rejects with
 * the signal's reason when the response is closed under it; `counter.bytesSent` only counts bytes the
 * socket accepted, so an aborted response reports what may actually have left.
 */
export async function sendBody(
  res: CdnResponse,
  plan: BodyPlan,
  counter: SentCounter,
  signal: AbortSignal,
): Promise<void> {
  const { source, start, length, limitRate, fault } = plan;
  const cutAt = fault && fault.kind !== 'corrupt' ? Math.min(Math.max(0, fault.afterBytes), length) : -1;
  let corruptAt = fault?.kind === 'corrupt' ? (fault.at ?? start) : -1;
  // Small chunks when paced, so a slow response trickles like nginx's instead of bursting.
  const chunkSize = limitRate ? Math.max(1, Math.min(CHUNK, Math.floor(limitRate / 10))) : CHUNK;
  let queued = 0;
  let lastFlush: Promise<void> = Promise.resolve();
  let paceFrom = { time: performance.now(), bytes: 0 };
  let triggered = false;

  const write = async (data: Buffer): Promise<void> => {
    let chunk = data;
    if (corruptAt >= start + queued && corruptAt < start + queued + chunk.length) {
      chunk = Buffer.from(chunk); // the source buffer is the object itself: never mutate it
      chunk[corruptAt - start - queued]! ^= 0xff;
      corruptAt = -1;
    }
    queued += chunk.length;
    const size = chunk.length;
    let ok = true;
    lastFlush = new Promise((resolve) => {
      const done = (err?: Error | null) => {
        if (!err) {
          counter.bytesSent += size;
          counter.onSent?.();
        }
        resolve();
      };
      ok = 'stream' in res ? res.write(chunk, done) : res.write(chunk, done);
    });
    if (!ok) await once(res, 'drain', { signal });
    if (limitRate) {
      const due = paceFrom.time + ((queued - paceFrom.bytes) / limitRate) * 1000;
      const wait = due - performance.now();
      if (wait >= 1) await sleep(wait, undefined, { signal });
    }
  };

  /** Returns true when the response is over (connection cut). */
  const trigger = async (): Promise<boolean> => {
    triggered = true;
    if (!fault || fault.kind === 'corrupt') return false;
    if (queued === 0) flushHeaders(res); // the client must see the headers even with afterBytes 0
    if (fault.kind === 'stall') {
      await (fault.ms === undefined ? untilAborted(signal) : sleep(fault.ms, undefined, { signal }));
      paceFrom = { time: performance.now(), bytes: queued }; // no catch-up burst after the pause
      return false;
    }
    // Let the bytes reach the kernel first, so the client receives `afterBytes` before the cut.
    await Promise.race([lastFlush, untilAborted(signal)]);
    counter.cut = true;
    if ('stream' in res) {
      // HTTP/2: cut this stream only, since the connection carries other requests' streams too.
      if (fault.kind === 'reset') {
        await sleep(RESET_GRACE_MS, undefined, { signal });
        res.stream.close(h2.NGHTTP2_INTERNAL_ERROR);
      } else {
        res.stream.end();
      }
      return true;
    }
    const socket = res.socket;
    if (!socket) return true;
    if (fault.kind === 'reset') {
      // A grace lets the peer read what was sent: an RST discards data still unread on arrival, and a
      // peer in this process (the tests) reads only when its event loop comes round, later on a busy machine.
      await sleep(RESET_GRACE_MS, undefined, { signal });
      if (typeof socket.resetAndDestroy === 'function') socket.resetAndDestroy();
      else socket.destroy();
    } else {
      socket.end(() => socket.destroy());
    }
    return true;
  };

  for await (const chunk of read(source, start, length, chunkSize)) {
    let piece = chunk;
    if (!triggered && cutAt >= queued && cutAt < queued + piece.length) {
      const before = piece.subarray(0, cutAt - queued);
      if (before.length > 0) await write(before);
      if (await trigger()) return;
      piece = piece.subarray(before.length);
    }
    await write(piece);
  }
  if (!triggered && cutAt === length && (await trigger())) return;
  res.end();
}
