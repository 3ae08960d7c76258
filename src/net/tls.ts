import { readFileSync } from 'node:fs';
import { createSecureContext, rootCertificates, type SecureContext } from 'node:tls';
import { FragfetchError } from '../errors.js';

/** What the TLS of every connection is given; contents, not paths (read once, at the start). */
export interface TlsSettings {
  /** CAs trusted beside Node's default roots (PEM). Undefined: Node's own store alone. */
  addedCa?: string[] | undefined;
  /** Client certificate and key for mutual TLS. */
  cert?: string | undefined;
  key?: string | undefined;
  /** `--insecure`: no certificate is verified. */
  insecure?: boolean | undefined;
}

/** Said on stderr and in the `--json` report of every run that does not verify certificates. */
export const INSECURE_WARNING = 'TLS certificates are not verified (--insecure)';

/** What the user asked for, as paths: `--ca-file` (else FRAGFETCH_CA_FILE), `--cert`, `--key`. */
export interface TlsFiles {
  caFile?: string | undefined;
  certFile?: string | undefined;
  keyFile?: string | undefined;
  insecure?: boolean | undefined;
}

function read(path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    const reason = (error as { code?: string }).code ?? String(error);
    throw new FragfetchError('EUSAGE', `cannot read ${what} ${path}: ${reason}`, { cause: error });
  }
}

/**
 * The TLS settings of a run. A CA file is added to the default CAs, as curl's `--cacert` is not but
 * as users of a private CA beside public CDNs need. NODE_EXTRA_CA_CERTS, which Node applies only to
 * its own shared store, is added with it (see `secureContextOf`).
 */
export function loadTls(files: TlsFiles, env: Readonly<Record<string, string | undefined>>): TlsSettings {
  const settings: TlsSettings = {};
  if (files.insecure) settings.insecure = true;
  const caFile = files.caFile ?? (env.FRAGFETCH_CA_FILE || undefined);
  if (caFile !== undefined) {
    const extra = env.NODE_EXTRA_CA_CERTS ? [read(env.NODE_EXTRA_CA_CERTS, 'NODE_EXTRA_CA_CERTS file')] : [];
    const given = read(caFile, 'CA file');
    if (!given.includes('-----BEGIN CERTIFICATE-----'))
      throw new FragfetchError('EUSAGE', `CA file ${caFile} holds no PEM certificate`);
    settings.addedCa = [...extra, given];
  }
  if ((files.certFile === undefined) !== (files.keyFile === undefined))
    throw new FragfetchError('EUSAGE', '--cert and --key go together: give both for mutual TLS');
  if (files.certFile !== undefined && files.keyFile !== undefined) {
    settings.cert = read(files.certFile, 'client certificate');
    settings.key = read(files.keyFile, 'client key');
  }
  return settings;
}

/** The native half of a SecureContext: `addCACert` adds to a copy of the default roots. */
interface NativeContext {
  addCACert?: (pem: string) => void;
}

/**
 * The one TLS context of a run's connections, or undefined where Node's default serves (no CA
 * added, no client certificate): given none, Node would build a context per connection.
 *
 * Added CAs go to a copy of the default roots by the context's `addCACert`, which copies the roots
 * Node parsed once per process (~1 ms); the documented `ca` option replaces the roots, so it would
 * be given Mozilla's 144 again as text, parsed at every run's start (30–60 ms). Where `addCACert`
 * is missing (another runtime), the `ca` option, with the roots.
 */
export function secureContextOf(tls: TlsSettings): SecureContext | undefined {
  if (!tls.addedCa && !tls.cert) return undefined;
  const options = tls.cert ? { cert: tls.cert, key: tls.key } : {};
  const context = createSecureContext(options);
  if (!tls.addedCa) return context;
  const native = (context as { context?: NativeContext }).context;
  if (typeof native?.addCACert !== 'function')
    return createSecureContext({ ...options, ca: [...rootCertificates, ...tls.addedCa] });
  for (const pem of tls.addedCa) native.addCACert(pem);
  return context;
}

/**
 * Node's and OpenSSL's codes for a certificate that could not be trusted, each with what it means
 * for the user. A TLS failure is not retried: the same certificate fails the same way.
 */
const CERTIFICATE_CODES: Record<string, string> = {
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'certificate signed by an unknown CA',
  UNABLE_TO_GET_ISSUER_CERT: 'certificate signed by an unknown CA',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'certificate signed by an unknown CA',
  SELF_SIGNED_CERT_IN_CHAIN: 'self-signed certificate in the chain (unknown CA)',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'self-signed certificate',
  CERT_HAS_EXPIRED: 'certificate expired',
  CERT_NOT_YET_VALID: 'certificate not yet valid',
  CERT_REVOKED: 'certificate revoked',
  ERR_TLS_CERT_ALTNAME_INVALID: 'certificate is not for this host name',
  HOSTNAME_MISMATCH: 'certificate is not for this host name',
};

const HINT = 'trust its CA with --ca-file FILE or NODE_EXTRA_CA_CERTS=FILE (or --insecure to skip checks)';

/** The cause of a TLS failure in a few words, with the hint that fixes it; undefined if not TLS. */
export function describeTlsFailure(error: unknown): string | undefined {
  for (let err = error as { code?: string; message?: string; cause?: unknown } | undefined; err;) {
    const code = err.code ?? '';
    const meaning = CERTIFICATE_CODES[code];
    if (meaning) return `TLS: ${meaning} (${code}); ${meaning.includes('host') ? 'check the URL' : HINT}`;
    if (code.startsWith('ERR_SSL_') || code.startsWith('ERR_TLS_'))
      return `TLS: ${err.message ?? code} (${code})`;
    err = err.cause as typeof err;
  }
  return undefined;
}
