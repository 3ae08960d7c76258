import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { fetchManifest } from '../../src/fetch/engine.js';
import { basic } from '../../src/net/credentials.js';
import { loadTls } from '../../src/net/tls.js';
import { spawnCli } from '../support/cli.js';
import { randomBytesSeeded, sriOf, tempDir } from '../support/fixtures.js';
import { type Harness, harness } from '../support/harness.js';
import { makePki, type Pki } from '../support/pki.js';

const body = randomBytesSeeded(200_000, 'credentials');
const fragments = [{ path: 'a.bin', size: body.length, integrity: sriOf(body) }];
const SECRET_HEADERS = { authorization: 'Bearer header-token', cookie: 'session=cookie-secret' };

let pki: Pki;
let home: Harness;
let secureHome: Harness;
let other: Harness;

beforeAll(async () => {
  pki = await makePki();
  home = await harness();
  secureHome = await harness({ tls: { cert: pki.server.cert.pem, key: pki.server.key.pem } });
  other = await harness();
  for (const h of [home, secureHome, other]) h.cdn.set('/m/a.bin', body);
});
afterAll(async () => {
  for (const h of [home, secureHome, other]) await h.close();
});
beforeEach(() => {
  for (const h of [home, secureHome, other]) h.cdn.reset();
});

/** What each request of the run carried, once its last response has closed. */
async function credentialsSeen(h: Harness) {
  await h.cdn.idle();
  return h.cdn.requests.map((r) => ({ authorization: r.headers.authorization, cookie: r.headers.cookie }));
}

describe('credentials stay home', () => {
  it('sends --header credentials and FRAGFETCH_TOKEN to the manifest origin, not after a redirect elsewhere', async () => {
    const target = other.cdn.url('/m/a.bin');
    for (const location of [target, target.replace('http:', '')]) {
      home.cdn.reset();
      other.cdn.reset();
      for (const status of [302, 307]) {
        home.cdn.fault('/m/a.bin', { kind: 'status', status, headers: { location } });
        const report = await fetchManifest(home.manifest(fragments), {
          cacheDir: `${home.cacheDir}/${status}-${location.length}`,
          headers: { ...SECRET_HEADERS, 'x-plain': 'kept' },
          network: { token: 'env-token', env: {} },
        });
        expect(report.ok).toBe(true);
      }
      expect(await credentialsSeen(home)).toEqual([
        { authorization: 'Bearer header-token', cookie: 'session=cookie-secret' },
        { authorization: 'Bearer header-token', cookie: 'session=cookie-secret' },
      ]);
      // A header that is no credential follows the redirect, as curl's -H does.
      await other.cdn.idle();
      expect(other.cdn.requests.map((r) => r.headers['x-plain'])).toEqual(['kept', 'kept']);
      expect(await credentialsSeen(other)).toEqual([
        { authorization: undefined, cookie: undefined },
        { authorization: undefined, cookie: undefined },
      ]);
    }
  });

  it('sends FRAGFETCH_TOKEN as a bearer token where no header gives one', async () => {
    const report = await fetchManifest(home.manifest(fragments), {
      cacheDir: `${home.cacheDir}/token`,
      network: { token: 'env-token', env: {} },
    });
    expect(report.ok).toBe(true);
    expect(await credentialsSeen(home)).toEqual([{ authorization: 'Bearer env-token', cookie: undefined }]);
  });

  it('never sends them from https down to http, even to another origin of the manifest', async () => {
    secureHome.cdn.fault('/m/a.bin', {
      kind: 'status',
      status: 302,
      headers: { location: other.cdn.url('/m/a.bin') },
    });
    const manifest = secureHome.manifest(fragments, {
      baseUrls: [secureHome.cdn.url('/m/'), other.cdn.url('/m/')],
    });
    const report = await fetchManifest(manifest, {
      cacheDir: `${secureHome.cacheDir}/down`,
      headers: SECRET_HEADERS,
      network: { tls: loadTls({ caFile: pki.ca.cert.path }, {}), token: 'env-token', env: {} },
    });
    expect(report.ok).toBe(true);
    expect(await credentialsSeen(secureHome)).toEqual([
      { authorization: 'Bearer header-token', cookie: 'session=cookie-secret' },
    ]);
    expect(await credentialsSeen(other)).toEqual([{ authorization: undefined, cookie: undefined }]);
  });

  it('reads logins from --netrc for the host they name', async () => {
    const dir = await tempDir('fragfetch-netrc-');
    const netrc = join(dir, 'netrc');
    await writeFile(netrc, `machine 127.0.0.1\n  login alice\n  password "net rc"\n`);
    const manifest = await home.manifestFile(fragments);
    const run = spawnCli(['fetch', manifest, '--cache', `${dir}/cache`, '--netrc', '--json'], {
      NETRC: netrc,
    });
    expect((await run.done).code).toBe(0);
    expect(await credentialsSeen(home)).toEqual([
      { authorization: basic('alice', 'net rc'), cookie: undefined },
    ]);
  });
});

describe('a login in a URL', () => {
  const PASSWORD = 's3cret-pw-in-url';

  async function filesUnder(dir: string): Promise<string[]> {
    const out: string[] = [];
    for (const entry of await readdir(dir, { withFileTypes: true, recursive: true }))
      if (entry.isFile()) out.push(join(entry.parentPath, entry.name));
    return out;
  }

  it('is sent to its origin and never printed nor stored', async () => {
    const dir = await tempDir('fragfetch-login-');
    const cache = `${dir}/cache`;
    const withLogin = home.cdn.url('/m/').replace('http://', `http://user:${PASSWORD}@`);
    home.cdn.set('/m/b.bin', randomBytesSeeded(900_000, 'partial'));
    // b.bin breaks off after 300 kB: its partial download and state stay in the cache.
    home.cdn.fault('/m/b.bin', { kind: 'reset', afterBytes: 300_000 }, { times: Infinity });
    const manifest = await home.jsonFile({
      version: 1,
      baseUrls: [withLogin],
      fragments: [...fragments, { path: 'b.bin', size: 900_000 }],
    });
    const fetched = await spawnCli(
      ['fetch', manifest, '--cache', cache, '--json', '--verbose', '--retries', '0'],
      {},
    ).done;
    expect(fetched.code).toBe(1);
    await home.cdn.idle();
    expect(home.cdn.requestsFor('/m/a.bin')[0]!.headers.authorization).toBe(basic('user', PASSWORD));

    const listed = await spawnCli(['cache', 'ls', '--cache', cache, '--json'], {}).done;
    const junit = `${dir}/junit.xml`;
    const checked = await spawnCli(['check', manifest, '--junit', junit, '--json', '--verbose'], {}).done;
    const outputs = [
      fetched.stdout,
      fetched.stderr,
      listed.stdout,
      listed.stderr,
      checked.stdout,
      checked.stderr,
    ];
    expect(outputs.join('\n')).toContain('127.0.0.1');
    for (const text of outputs) expect(text).not.toContain(PASSWORD);
    const files = await filesUnder(cache);
    expect(files.some((file) => file.endsWith('state.json'))).toBe(true);
    for (const file of [...files, junit]) expect((await readFile(file)).includes(PASSWORD)).toBe(false);
  });
});
