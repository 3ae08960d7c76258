/**
 * Which proxy, if any, the standard environment variables ask for a URL — the rules of undici's
 * EnvHttpProxyAgent (and curl's, near enough): `http_proxy`/`HTTP_PROXY` for http:, `https_proxy`/
 * `HTTPS_PROXY` (else the http one) for https:, `all_proxy`/`ALL_PROXY` for either when those are
 * unset (as curl reads it), and `no_proxy`/`NO_PROXY` entries that exempt a host,
 * its subdomains (`example.com`, `.example.com`, `*.example.com`), a `host:port`, or everything (`*`).
 */
export type ProxyEnv = Readonly<Record<string, string | undefined>>;

const DEFAULT_PORTS: Record<string, number> = { 'http:': 80, 'https:': 443 };

export function proxyFor(url: URL, env: ProxyEnv = process.env): string | undefined {
  const httpProxy = env.http_proxy ?? env.HTTP_PROXY;
  const schemeProxy =
    url.protocol === 'https:' ? (env.https_proxy ?? env.HTTPS_PROXY ?? httpProxy) : httpProxy;
  const proxy = schemeProxy || env.all_proxy || env.ALL_PROXY;
  if (!proxy) return undefined;
  const noProxy = env.no_proxy ?? env.NO_PROXY ?? '';
  if (noProxy.trim() === '*') return undefined;
  // `host`, not `hostname`: the brackets of an IPv6 address stay, as NO_PROXY writes them.
  const hostname = url.host.replace(/:\d*$/, '').toLowerCase();
  const port = Number.parseInt(url.port, 10) || DEFAULT_PORTS[url.protocol] || 0;
  for (const entry of noProxy.split(/[,\s]/)) {
    if (!entry) continue;
    const parsed = /^(.+):(\d+)$/.exec(entry);
    const host = (parsed ? parsed[1]! : entry).replace(/^\*?\./, '').toLowerCase();
    const entryPort = parsed ? Number.parseInt(parsed[2]!, 10) : 0;
    if (entryPort && entryPort !== port) continue;
    if (hostname === host || hostname.endsWith(`.${host}`)) return undefined;
  }
  return proxy;
}
