/**
 * The floor of undici alone under a run of fragfetch: every fragment of a manifest fetched whole by
 * undici's `Agent.dispatch`, `inFlight` at once over at most `connections` kept-alive connections,
 * with a handler that only adds up the body's chunks — no hash, no disk, no statistics, no retry.
 * What fragfetch adds shows against it; what it costs against curl is undici's and Node's, not
 * fragfetch's. Not a tool: a measuring stick (bench/README.md, "Where undici itself is the limit").
 *
 *   node dist/bench/undici-floor.js <manifest.json> [connections] [inFlight] [ca.pem]
 */
import { readFileSync } from 'node:fs';
import { Agent, type Dispatcher } from 'undici';

const [manifestFile, connectionsArg = '16', inFlightArg = '16', caFile] = process.argv.slice(2);
if (!manifestFile) {
  console.error('usage: node dist/bench/undici-floor.js <manifest.json> [connections] [inFlight] [ca.pem]');
  process.exit(2);
}
const manifest = JSON.parse(readFileSync(manifestFile, 'utf8')) as {
  baseUrls: string[];
  fragments: { path: string }[];
};
const base = new URL(manifest.baseUrls[0]!);
const paths = manifest.fragments.map((fragment) => new URL(fragment.path, base).pathname);
const agent = new Agent({
  connections: Number(connectionsArg),
  ...(caFile ? { connect: { ca: readFileSync(caFile) } } : {}),
});

let next = 0;
let bytes = 0;

function get(path: string): Promise<void> {
  return new Promise((resolve, reject) => {
    // undici takes a handler for its v7 API by its onRequestStart (else it wants the old onConnect).
    const handler: Dispatcher.DispatchHandler = {
      onRequestStart: () => {},
      onResponseStart: (_controller, status) => {
        if (status !== 200) reject(new Error(`GET ${path}: ${status}`));
      },
      onResponseData: (_controller, chunk) => {
        bytes += chunk.length;
      },
      onResponseEnd: () => resolve(),
      onResponseError: (_controller, error) => reject(error),
    };
    agent.dispatch({ origin: base.origin, path, method: 'GET' }, handler);
  });
}

async function worker(): Promise<void> {
  for (let path = paths[next++]; path !== undefined; path = paths[next++]) await get(path);
}

const began = performance.now();
await Promise.all(Array.from({ length: Number(inFlightArg) }, worker));
const seconds = (performance.now() - began) / 1000;
console.log(
  `${paths.length} objects, ${(bytes / 2 ** 20).toFixed(1)} MiB in ${seconds.toFixed(2)} s ` +
    `(${(performance.now() / 1000).toFixed(2)} s from the process's start)`,
);
await agent.close();
