import { readFileSync } from 'node:fs';
import { rootCertificates } from 'node:tls';
import { FragfetchError } from '../errors.js';

/** What the TLS of every connection is given; contents, not paths (read once, at the start). */
export interface TlsSettings {
  /** Trusted CAs, replacing Node's defaults: so it holds them too. Undefined: Node's own store. */
  ca?: string[] | undefined;
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
 * as users of a private CA beside public CDNs need; giving `ca` to Node replaces its store, so the
 * defaults — Mozilla's roots and NODE_EXTRA_CA_CERTS, which Node applies only to its own store —
 * are given with it.
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
    settings.ca = [...rootCertificates, ...extra, given];
  }
  if ((files.certFile === undefined) !== (files.keyFile === undefined))
    throw new FragfetchError('EUSAGE', '--cert and --key go together: give both for mutual TLS');
  if (files.certFile !== undefined && files.keyFile !== undefined) {
    settings.cert = read(files.certFile, 'client certificate');
    settings.key = read(files.keyFile, 'client key');
  }
  return settings;
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
