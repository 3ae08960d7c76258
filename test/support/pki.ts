/**
 * A throwaway PKI made at test time with the `openssl` CLI: CAs, server certificates good and bad,
 * and a client certificate for mutual TLS. EC P-256 keys, so the whole set takes tens of ms.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface Pem {
  path: string;
  pem: string;
}

export interface Identity {
  cert: Pem;
  key: Pem;
}

export interface Pki {
  dir: string;
  /** The CA the tests trust: give `ca.cert` to the client (undici `connect.ca`, `--ca-file`). */
  ca: Identity;
  /** Signed by `ca` for IP 127.0.0.1, IP ::1 and DNS localhost; valid ten years. */
  server: Identity;
  /** A CA no client is told about. */
  otherCa: Identity;
  /** The same names as `server`, signed by `otherCa`: the unknown-CA case (UNABLE_TO_VERIFY_LEAF_SIGNATURE). */
  otherServer: Identity;
  /** The same names, self-signed (Node: DEPTH_ZERO_SELF_SIGNED_CERT). */
  selfSigned: Identity;
  /** Signed by `ca`, valid only 2020-01-01 to 2020-01-02 (Node: CERT_HAS_EXPIRED). */
  expired: Identity;
  /** Signed by `ca` for DNS wrong-host.test only (Node: ERR_TLS_CERT_ALTNAME_INVALID). */
  wrongHost: Identity;
  /** The CA a mutual-TLS server requires client certificates from (`ca` + `requestCert`). */
  clientCa: Identity;
  /** Signed by `clientCa`, extendedKeyUsage clientAuth. */
  client: Identity;
}

export const WRONG_HOST = 'wrong-host.test';
const LOOPBACK_NAMES = 'IP:127.0.0.1, IP:::1, DNS:localhost';

// One config for every command: `-extensions` picks what a certificate is for.
const CONFIG = `
[req]
distinguished_name = dn
prompt = no
[dn]
CN = fragfetch test
[ca_ext]
basicConstraints = critical, CA:true
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[server_ext]
basicConstraints = critical, CA:false
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = ${LOOPBACK_NAMES}
[self_signed_ext]
basicConstraints = critical, CA:false
keyUsage = critical, digitalSignature, keyCertSign
extendedKeyUsage = serverAuth
subjectAltName = ${LOOPBACK_NAMES}
[wrong_host_ext]
basicConstraints = critical, CA:false
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:${WRONG_HOST}
[client_ext]
basicConstraints = critical, CA:false
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
# \`openssl ca\` is only used for the expired certificate: it is the one command in OpenSSL 3.0 that
# takes explicit validity dates.
[ca]
default_ca = signer
[signer]
database = signer/index.txt
new_certs_dir = signer
serial = signer/serial
default_md = sha256
policy = any
[any]
commonName = supplied
`;

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];

async function openssl(dir: string, args: string[]): Promise<void> {
  await run('openssl', args, { cwd: dir });
}

async function load(dir: string, name: string): Promise<Identity> {
  const certPath = path.join(dir, `${name}.pem`);
  const keyPath = path.join(dir, `${name}.key`);
  const [cert, key] = await Promise.all([readFile(certPath, 'utf8'), readFile(keyPath, 'utf8')]);
  return { cert: { path: certPath, pem: cert }, key: { path: keyPath, pem: key } };
}

/** A certificate made by `req -x509`: self-signed, or signed by `issuer` when given. */
function issue(dir: string, name: string, cn: string, extensions: string, issuer?: string, days = 3650) {
  const signer = issuer ? ['-CA', `${issuer}.pem`, '-CAkey', `${issuer}.key`] : [];
  return openssl(dir, [
    'req', '-x509', '-new', '-config', 'openssl.cnf', ...EC,
    '-keyout', `${name}.key`, '-out', `${name}.pem`, '-subj', `/CN=${cn}`,
    '-extensions', extensions, '-days', String(days), ...signer,
  ]); // prettier-ignore
}

async function issueExpired(dir: string): Promise<void> {
  await mkdir(path.join(dir, 'signer'));
  await writeFile(path.join(dir, 'signer', 'index.txt'), '');
  await writeFile(path.join(dir, 'signer', 'serial'), '01\n');
  await openssl(dir, [
    'req', '-new', '-config', 'openssl.cnf', ...EC,
    '-keyout', 'expired.key', '-out', 'signer/expired.csr', '-subj', '/CN=127.0.0.1',
  ]); // prettier-ignore
  await openssl(dir, [
    'ca', '-batch', '-notext', '-config', 'openssl.cnf', '-cert', 'ca.pem', '-keyfile', 'ca.key',
    '-in', 'signer/expired.csr', '-out', 'expired.pem', '-extensions', 'server_ext',
    '-startdate', '20200101000000Z', '-enddate', '20200102000000Z',
  ]); // prettier-ignore
}

async function issueAll(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  await writeFile(path.join(dir, 'openssl.cnf'), CONFIG);
  await Promise.all([
    issue(dir, 'ca', 'fragfetch test CA', 'ca_ext'),
    issue(dir, 'other-ca', 'fragfetch other CA', 'ca_ext'),
    issue(dir, 'client-ca', 'fragfetch client CA', 'ca_ext'),
    issue(dir, 'self-signed', '127.0.0.1', 'self_signed_ext'),
  ]);
  await Promise.all([
    issue(dir, 'server', '127.0.0.1', 'server_ext', 'ca'),
    issue(dir, 'other-server', '127.0.0.1', 'server_ext', 'other-ca'),
    issue(dir, 'wrong-host', WRONG_HOST, 'wrong_host_ext', 'ca'),
    issue(dir, 'client', 'fragfetch client', 'client_ext', 'client-ca'),
    issueExpired(dir),
  ]);
}

async function loadAll(dir: string): Promise<Pki> {
  const file = (name: string) => load(dir, name);
  const [ca, server, otherCa, otherServer, selfSigned, expired, wrongHost, clientCa, client] = await Promise.all([
    file('ca'), file('server'), file('other-ca'), file('other-server'), file('self-signed'),
    file('expired'), file('wrong-host'), file('client-ca'), file('client'),
  ]); // prettier-ignore
  return { dir, ca, server, otherCa, otherServer, selfSigned, expired, wrongHost, clientCa, client };
}

/**
 * The default home of the set: one folder per version of the config, shared by every test process
 * and run, so parallel test files neither rebuild it nor leave copies behind.
 */
const SHARED = path.join(
  tmpdir(),
  `fragfetch-pki-${createHash('sha256').update(CONFIG).digest('hex').slice(0, 12)}`,
);

async function shared(): Promise<Pki> {
  const exists = await stat(SHARED).then(
    () => true,
    () => false,
  );
  if (!exists) {
    // Built aside and renamed into place: processes starting together never see half a set.
    const staging = await mkdtemp(`${SHARED}-`);
    try {
      await issueAll(staging);
      await rename(staging, SHARED).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'EEXIST' && err.code !== 'ENOTEMPTY') throw err; // another process won
      });
    } finally {
      await rm(staging, { recursive: true, force: true });
    }
  }
  return loadAll(SHARED);
}

const made = new Map<string, Promise<Pki>>();

/**
 * The PKI in `dir` (made there if missing; the caller removes it), or without `dir` the shared set
 * in the OS temp folder. Repeated calls in a process return the same promise.
 */
export function makePki(dir?: string): Promise<Pki> {
  const key = dir === undefined ? '' : path.resolve(dir);
  let pki = made.get(key);
  if (!pki) {
    pki = dir === undefined ? shared() : issueAll(key).then(() => loadAll(key));
    made.set(key, pki);
    pki.catch(() => made.delete(key)); // a failed build is retried by the next call
  }
  return pki;
}
