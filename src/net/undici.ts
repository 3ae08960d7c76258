import { createRequire } from 'node:module';
import type * as Undici from 'undici';

/**
 * undici's dispatchers, each loaded from its own module. undici's index loads every part of it
 * (fetch, WebSocket, caches, mocks, interceptors): 85 ms at every start, where the parts a direct
 * run uses load in 27 ms. ProxyAgent is the exception: it tunnels through the `connect` method that
 * the index adds to every dispatcher, so it comes with the whole index, loaded when a proxy is first
 * used.
 */
const load = createRequire(import.meta.url);

export const Agent = load('undici/lib/dispatcher/agent.js') as typeof Undici.Agent;
export const Pool = load('undici/lib/dispatcher/pool.js') as typeof Undici.Pool;
export const Client = load('undici/lib/dispatcher/client.js') as typeof Undici.Client;
export const buildConnector = load('undici/lib/core/connect.js') as typeof Undici.buildConnector;

export function proxyAgent(options: Undici.ProxyAgent.Options): Undici.ProxyAgent {
  const { ProxyAgent } = load('undici') as typeof Undici;
  return new ProxyAgent(options);
}
