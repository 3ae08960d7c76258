/**
 * The floor of the small scenario for a Node program that keeps fragfetch's guarantees' costs: 16
 * kept-alive plain-http connections reading each body in place into shared memory, sha256 of every
 * object checked against the manifest, and cacache's layout (a content file and an index bucket,
 * each in a folder of its own) written by one worker thread. Nothing else: no retries, no resume, no
 * statistics, no redirects, no checks of the answer but its length. Not a tool: a measuring stick
 * (bench/README.md). Usage, with the small fixtures served as `npm run bench -- --keep` leaves them:
 *
 *   node dist/bench/floor.js <manifest.json> <empty cache folder>
 */
import { hash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';

interface Entry {
  path: string;
  size: number;
  integrity: string;
}

const [manifestFile, cacheDir] = process.argv.slice(2);
if (!manifestFile || !cacheDir) {
  console.error('usage: node dist/bench/floor.js <manifest.json> <empty cache folder>');
  process.exit(2);
}
const began = performance.now();
const manifest = JSON.parse(readFileSync(manifestFile, 'utf8')) as { baseUrls: string[]; fragments: Entry[] };
const base = new URL(manifest.baseUrls[0]!);
const objects = manifest.fragments.map((fragment) => ({
  target: new URL(fragment.path, base).pathname,
  size: fragment.size,
  integrity: fragment.integrity,
}));

const BUFFERS = 128;
const memory = Array.from({ length: BUFFERS }, () => new SharedArrayBuffer(256 * 1024));
const free = memory.map((_, i) => i);
const waiting: ((slot: number) => void)[] = [];
const takeSlot = (): Promise<number> =>
  free.length > 0 ? Promise.resolve(free.pop()!) : new Promise((resolve) => waiting.push(resolve));

const store = new Worker(
  `
const { parentPort } = require('node:worker_threads');
const { appendFileSync, mkdirSync, writeFileSync } = require('node:fs');
const { dirname } = require('node:path');
const made = new Set();
const memory = [];
const folder = (path) => { if (!made.has(path)) { mkdirSync(path, { recursive: true }); made.add(path); } };
parentPort.on('message', (jobs) => {
  for (const job of jobs) {
    if (job.memory) memory[job.slot] = new Uint8Array(job.memory);
    folder(dirname(job.content));
    writeFileSync(job.content, memory[job.slot].subarray(0, job.length), { flag: 'wx' });
    folder(dirname(job.bucket));
    appendFileSync(job.bucket, job.line);
  }
  parentPort.postMessage(jobs.map((job) => job.slot));
});`,
  { eval: true },
);
let stored = 0;
store.on('message', (slots: number[]) => {
  for (const slot of slots) {
    const next = waiting.shift();
    if (next) next(slot);
    else free.push(slot);
  }
  stored += slots.length;
  if (stored === objects.length) {
    console.log(`floor: ${objects.length} objects in ${((performance.now() - began) / 1000).toFixed(2)} s`);
    process.exit(0);
  }
});

let batch: object[] = [];
const sent = new Set<number>();
function save(slot: number, length: number, digest: string): void {
  const hex = Buffer.from(digest, 'base64').toString('hex');
  const key = `fragfetch:integrity:sha256-${digest}`;
  const keyHex = hash('sha256', key, 'hex');
  const json = JSON.stringify({ key, integrity: `sha256-${digest}`, time: Date.now(), size: length });
  const job = {
    slot,
    length,
    content: join(cacheDir!, 'content-v2', 'sha256', hex.slice(0, 2), hex.slice(2, 4), hex.slice(4)),
    bucket: join(cacheDir!, 'index-v5', keyHex.slice(0, 2), keyHex.slice(2, 4), keyHex.slice(4)),
    line: `\n${hash('sha1', json, 'hex')}\t${json}`,
    ...(sent.has(slot) ? {} : { memory: memory[slot] }),
  };
  sent.add(slot);
  if (batch.length === 0) {
    setImmediate(() => {
      store.postMessage(batch);
      batch = [];
    });
  }
  batch.push(job);
}

let next = 0;
function connection(): void {
  const scratch = Buffer.allocUnsafe(4096);
  let target: Buffer | undefined;
  let onRead: (length: number, buffer: Uint8Array) => void = () => {};
  const socket = net.connect({
    host: base.hostname,
    port: Number(base.port) || 80,
    noDelay: true,
    onread: {
      buffer: () => target ?? scratch,
      callback: (length: number, buffer: Uint8Array) => {
        onRead(length, buffer);
        return true;
      },
    },
  });
  const fetchNext = async (): Promise<void> => {
    const object = objects[next++];
    if (!object) return;
    const slot = await takeSlot();
    const body = Buffer.from(memory[slot]!);
    let placed = 0;
    let length = -1;
    onRead = (count, buffer) => {
      if (length < 0) {
        const head = Buffer.from(buffer.buffer, buffer.byteOffset, count);
        const end = head.indexOf('\r\n\r\n');
        length = Number(/content-length: *(\d+)/i.exec(head.toString('latin1', 0, end))?.[1]);
        head.copy(body, 0, end + 4);
        placed = count - end - 4;
      } else {
        placed += count;
      }
      target = placed < length ? body.subarray(placed, length) : undefined;
      if (placed < length) return;
      const digest = hash('sha256', body.subarray(0, length), 'base64');
      if (`sha256-${digest}` !== object.integrity) throw new Error(`integrity mismatch: ${object.target}`);
      save(slot, length, digest);
      void fetchNext();
    };
    socket.write(`GET ${object.target} HTTP/1.1\r\nhost: ${base.host}\r\naccept-encoding: identity\r\n\r\n`);
  };
  void fetchNext();
}
for (let i = 0; i < 16; i++) connection();
