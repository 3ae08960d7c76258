/**
 * `npm run demo`: an embedded local CDN serves generated files, and fragfetch fetches the bundled demo
 * manifest through it twice — cold (with a few injected faults, to show retry and resume), then warm.
 * Offline, on loopback only; everything it creates is removed at the end.
 */
import { copyFile, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { chalkStderr } from 'chalk';
import { main } from '../src/cli/main.js';
import { formatBytes } from '../src/units.js';
import { startCdn } from '../test/support/cdn.js';
import { tempDir } from '../test/support/fixtures.js';
import { writeDemoFiles } from './demo-files.js';

const manifestFile = new URL('../../fixtures/demo/manifest.json', import.meta.url);
const say = (text: string) => process.stderr.write(`\n${chalkStderr.bold(`▶ ${text}`)}\n`);

const filesDir = await tempDir('fragfetch-demo-files-');
const cacheDir = await tempDir('fragfetch-demo-cache-');
const cdn = await startCdn({ limitRate: 64 * 1024 * 1024 });
let exitCode: number;
try {
  const manifest = JSON.parse(await readFile(manifestFile, 'utf8')) as { fragments: { path: string }[] };
  const bytes = await writeDemoFiles(filesDir, manifest.fragments);
  await copyFile(manifestFile, join(filesDir, 'manifest.json'));
  cdn.mount('/demo', filesDir);
  const url = cdn.url('/demo/manifest.json');

  // A CDN on a bad day: one 503, a connection reset half-way through the big file, a 429 with Retry-After.
  cdn.fault('/demo/embed.bin', { kind: 'status', status: 503 });
  cdn.fault('/demo/model.bin', { kind: 'reset', afterBytes: 3 * 1024 * 1024 });
  cdn.fault('/demo/shards/shard-03.bin', { kind: 'status', status: 429, headers: { 'retry-after': '1' } });

  say(
    `local CDN at ${cdn.origin} serving ${manifest.fragments.length} fragments (${formatBytes(bytes)}), with a 503, a reset and a 429 injected`,
  );
  say(`fragfetch fetch ${url} --cache ${cacheDir}`);
  exitCode = await main(['fetch', url, '--cache', cacheDir, '--verbose']);
  // The manifest itself is fetched by every run; what the cache saves is the fragments' requests.
  const fragmentRequests = () => cdn.requests.filter((r) => !r.path.endsWith('manifest.json')).length;
  const cold = fragmentRequests();

  say('the same command again: every fragment is in the cache, so no request is sent');
  cdn.reset();
  const warm = await main(['fetch', url, '--cache', cacheDir]);
  const warmRequests = fragmentRequests();
  say(`fragment requests: ${cold} in the cold run, ${warmRequests} in the warm run`);
  if (warm !== 0 || warmRequests !== 0) exitCode = 1;
} finally {
  await cdn.close();
  await rm(filesDir, { recursive: true, force: true });
  await rm(cacheDir, { recursive: true, force: true });
}
process.exitCode = exitCode;
