/**
 * What the server saw of one run: the protocols the requests came in on and, from nginx, how many
 * connections carried them. It shows what each tool negotiated by itself (curl picks HTTP/2 over
 * https, aria2c cannot) and that `--http2` did what it says.
 */

export interface Traffic {
  requests: number;
  /** Requests per protocol, e.g. `{ "HTTP/2.0 TLSv1.3": 64 }`. */
  protocols: Record<string, number>;
  /** Distinct connections; null when the server does not say (the test CDN). */
  connections: number | null;
}

/**
 * nginx's `bench` log lines (`$status $request_length $server_protocol $ssl_protocol $connection`,
 * `-` for an empty variable), or the test CDN's `<protocol> <tls>` lines.
 */
export function parseTraffic(lines: readonly string[], format: 'nginx' | 'cdn'): Traffic {
  const protocols: Record<string, number> = {};
  const connections = new Set<string>();
  for (const line of lines) {
    const fields = line.trim().split(/\s+/);
    const [protocol, tls, connection] = format === 'nginx' ? fields.slice(2, 5) : fields;
    if (!protocol) continue;
    const key = tls && tls !== '-' ? `${protocol} ${tls}` : protocol;
    protocols[key] = (protocols[key] ?? 0) + 1;
    if (connection) connections.add(connection);
  }
  return {
    requests: Object.values(protocols).reduce((sum, count) => sum + count, 0),
    protocols,
    connections: format === 'nginx' ? connections.size : null,
  };
}

/** `HTTP/2.0 TLSv1.3 ×64, 1 connection` — the protocols most used first. */
export function describeTraffic(traffic: Traffic): string {
  const protocols = Object.entries(traffic.protocols)
    .sort((a, b) => b[1] - a[1])
    .map(([protocol, count]) => `${protocol} ×${count}`)
    .join(', ');
  if (!protocols) return 'no request';
  if (traffic.connections === null) return protocols;
  return `${protocols}, ${traffic.connections} connection${traffic.connections === 1 ? '' : 's'}`;
}
