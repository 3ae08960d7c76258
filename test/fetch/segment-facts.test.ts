import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ObjectFacts } from '../../src/fetch/acceptance.js';
import { Coverage } from '../../src/fetch/coverage.js';
import { fetchSegment, type SegmentCall } from '../../src/fetch/segment.js';
import { HttpClient } from '../../src/net/http.js';
import { MemoryFile } from '../../src/receive/data-file.js';
import { WholeHasher } from '../../src/receive/hasher.js';

const body = Buffer.from('0123456789abcdef');
let server: http.Server;
let origin: string;
const client = new HttpClient({ timeoutMs: 2000, stallTimeoutMs: 2000, headers: {}, env: {} });

beforeAll(async () => {
  server = http.createServer((request, response) => {
    const etag = request.url === '/v2' ? '"v2"' : '"v1"';
    const match = /bytes=(\d+)-(\d+)/.exec(request.headers.range ?? '');
    if (!match) {
      response.writeHead(200, { 'content-length': body.length, etag });
      response.end(body);
      return;
    }
    const [start, end] = [Number(match[1]), Number(match[2])];
    response.writeHead(206, {
      'content-range': `bytes ${start}-${end}/${body.length}`,
      'content-length': end - start + 1,
      etag,
    });
    response.end(body.subarray(start, end + 1));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  client.destroy();
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

function call(
  path: string,
  start: number,
  end: number,
  facts: ObjectFacts,
): SegmentCall & { told: ObjectFacts[] } {
  const file = new MemoryFile(Buffer.alloc(body.length));
  const told: ObjectFacts[] = [];
  return {
    told,
    http: client,
    request: {
      url: `${origin}${path}`,
      start,
      end,
      objectOffset: 0,
      isRange: false,
      declaredSize: body.length,
      sendValidators: false,
    },
    facts: () => facts,
    sink: {
      file,
      coverage: new Coverage(),
      hasher: new WholeHasher(() => file.data, ['sha256']),
      limiter: undefined,
      signal: new AbortController().signal,
      onBytes: () => {},
      onWritten: () => {},
    },
    onAnswer: (_, learned) => told.push(learned),
  };
}

describe('fetchSegment and the object facts', () => {
  it('hands the facts an answer established to onAnswer, and leaves those it was given alone', async () => {
    const given: ObjectFacts = Object.freeze({});
    const segment = call('/v1', 4, 8, given);
    const outcome = await fetchSegment(segment);
    expect(outcome).toMatchObject({ status: 206, bytes: 4 });
    expect(segment.told).toEqual([{ url: `${origin}/v1`, etag: '"v1"', objectSize: 16, ranges: true }]);
    expect(given).toEqual({});
  });

  it('judges the answer by the facts as they stand when it comes, not when the request was made', async () => {
    let facts: ObjectFacts = {};
    const segment = { ...call('/v2', 4, 8, {}), facts: () => facts };
    // Another request of the object settles the facts while this one is under way.
    const pending = fetchSegment(segment);
    facts = { url: `${origin}/v1`, etag: '"v1"', objectSize: 16 };
    await expect(pending).rejects.toMatchObject({ code: 'ECHANGED' });
    expect(segment.told).toEqual([]);
  });
});
