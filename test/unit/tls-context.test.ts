import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { connect, createServer, type SecureContext, type Server } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { secureContextOf } from '../../src/net/tls.js';
import { type Identity, makePki, type Pki } from '../support/pki.js';

let pki: Pki;
const servers: Server[] = [];
beforeAll(async () => {
  pki = await makePki();
});
afterAll(() => {
  for (const server of servers) server.close();
});

async function serve(identity: Identity): Promise<number> {
  const server = createServer({ cert: identity.cert.pem, key: identity.key.pem }, (socket) => socket.end());
  servers.push(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return (server.address() as AddressInfo).port;
}

/** Whether a handshake with `context` verifies the server's certificate, and why not. */
async function verdict(port: number, context: SecureContext | undefined): Promise<string> {
  const socket = connect({ port, host: '127.0.0.1', ...(context ? { secureContext: context } : {}) });
  try {
    await once(socket, 'secureConnect');
    return 'trusted';
  } catch (error) {
    return (error as { code?: string }).code ?? String(error);
  } finally {
    socket.destroy();
  }
}

describe('secureContextOf', () => {
  it("is Node's default when nothing is added", () => {
    expect(secureContextOf({})).toBeUndefined();
    expect(secureContextOf({ insecure: true })).toBeUndefined();
  });

  it('trusts an added CA, and still not a CA nobody added', async () => {
    const context = secureContextOf({ addedCa: [pki.ca.cert.pem] });
    expect(context).toBeDefined();
    expect(await verdict(await serve(pki.server), context)).toBe('trusted');
    expect(await verdict(await serve(pki.otherServer), context)).toBe('UNABLE_TO_VERIFY_LEAF_SIGNATURE');
    // Without it, the same server is refused: the CA came from the context, not from the process.
    expect(await verdict(await serve(pki.server), undefined)).toBe('UNABLE_TO_VERIFY_LEAF_SIGNATURE');
  });

  it('adds every CA given, as one context', async () => {
    const context = secureContextOf({ addedCa: [pki.otherCa.cert.pem, pki.ca.cert.pem] });
    expect(await verdict(await serve(pki.server), context)).toBe('trusted');
    expect(await verdict(await serve(pki.otherServer), context)).toBe('trusted');
  });
});
