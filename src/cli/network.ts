import { Option } from 'commander';
import type { NetworkOptions } from '../net/http.js';
import { readNetrc } from '../net/netrc.js';
import { INSECURE_WARNING, loadTls } from '../net/tls.js';
import type { CliIO } from './io.js';

/** How a server is reached: the options every command that sends requests shares. */
export function networkOptions(): Option[] {
  return [
    new Option(
      '--ca-file <file>',
      'also trust the CA certificates in this PEM file (else $FRAGFETCH_CA_FILE)',
    ),
    new Option('--insecure', 'do not verify TLS certificates (a warning is printed on every run)'),
    new Option('--cert <file>', 'client certificate (PEM) for mutual TLS, with --key'),
    new Option('--key <file>', 'private key (PEM) of the client certificate'),
    new Option('--http2', 'offer HTTP/2 to https servers (by ALPN; others answer in HTTP/1.1)'),
    new Option('--netrc', 'logins from ~/.netrc (or $NETRC), per host, as curl --netrc reads them'),
  ];
}

export interface NetworkFlags {
  caFile?: string;
  insecure?: boolean;
  cert?: string;
  key?: string;
  http2?: boolean;
  netrc?: boolean;
}

/**
 * The run's network settings, read once: CA and client certificate files, FRAGFETCH_TOKEN, .netrc,
 * and the proxy variables. A file that cannot be read is a usage error, before any request.
 */
export function networkOf(flags: NetworkFlags, io: CliIO): NetworkOptions {
  const tls = loadTls(
    { caFile: flags.caFile, certFile: flags.cert, keyFile: flags.key, insecure: flags.insecure },
    io.env,
  );
  if (tls.insecure) io.stderr.write(`fragfetch: warning: ${INSECURE_WARNING}\n`);
  return {
    tls,
    http2: flags.http2 ?? false,
    token: io.env.FRAGFETCH_TOKEN || undefined,
    netrc: flags.netrc ? readNetrc(io.env) : undefined,
    env: io.env,
  };
}
