import { once } from 'node:events';
import { type AddressInfo, connect, createServer, Socket } from 'node:net';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startCdn, type TestCdn } from './cdn.js';
import { randomBytesSeeded } from './fixtures.js';
import { makePki } from './pki.js';
import { startRelay, type TcpRelay } from './relay.js';

const data = randomBytesSeeded(2 * 1024 * 1024 + 3, 'relay');

describe('TCP relay', () => {
  let cdn: TestCdn;
  let relay: TcpRelay;
  let agent: Agent;
  beforeAll(async () => {
    const pki = await makePki();
    cdn = await startCdn({ tls: { cert: pki.server.cert.pem, key: pki.server.key.pem }, http2: true });
    relay = await startRelay({ target: { port: cdn.port }, delayMs: 15 });
    agent = new Agent({ connect: { ca: pki.ca.cert.pem }, allowH2: true });
  });
  afterAll(async () => {
    await agent.close();
    await relay.close();
    await cdn.close();
  });

  it('carries TLS and HTTP/2 to the target whole, delaying every chunk both ways', async () => {
    cdn.set('/r.bin', data);
    const res = await request(`${relay.origin('https')}/r.bin`, { dispatcher: agent });
    expect(Buffer.from(await res.body.arrayBuffer()).equals(data)).toBe(true);
    const { stats } = relay;
    expect(stats.connections).toBe(1);
    expect(cdn.connections).toBe(1);
    expect(stats.bytesDown).toBeGreaterThan(data.length);
    expect(stats.chunksUp).toBeGreaterThan(0);
    expect(stats.delayedMs).toBe((stats.chunksUp + stats.chunksDown) * 15);
  });

  it('turns Nagle’s algorithm off on both of its sockets, so a held chunk is not held again', async () => {
    // Plain net sockets on both ends, which never call setNoDelay themselves: every call is the relay's.
    const target = createServer((socket) => socket.end('pong'));
    await new Promise<void>((resolve) => target.listen(0, '127.0.0.1', resolve));
    const noDelay = vi.spyOn(Socket.prototype, 'setNoDelay');
    const netRelay = await startRelay({
      target: { port: (target.address() as AddressInfo).port },
      delayMs: 1,
    });
    try {
      const client = connect(netRelay.port, '127.0.0.1');
      let answer = '';
      client.setEncoding('utf8').on('data', (text: string) => (answer += text));
      await once(client, 'end');
      client.destroy();
      expect(answer).toBe('pong');
      expect(noDelay.mock.calls).toEqual([[true], [true]]);
    } finally {
      noDelay.mockRestore();
      await netRelay.close();
      await new Promise((resolve) => target.close(resolve));
    }
  });

  it('passes a reset on after the bytes sent before it', async () => {
    const plain = await startCdn();
    const plainRelay = await startRelay({ target: { port: plain.port }, delayMs: 5 });
    try {
      plain.set('/cut.bin', data);
      plain.fault('/cut.bin', { kind: 'reset', afterBytes: 100_000 });
      let received = 0;
      const res = await request(`${plainRelay.origin('http')}/cut.bin`);
      const error = await (async () => {
        for await (const chunk of res.body as AsyncIterable<Buffer>) received += chunk.length;
      })().catch((err: { code?: string }) => err.code);
      expect([error, received]).toEqual(['ECONNRESET', 100_000]);
    } finally {
      await plainRelay.close();
      await plain.close();
    }
  });
});
