/**
 * Which endpoint a fragment URL belongs to, for grouping probes (one table row, one JUnit suite).
 *
 * The manifest's base URLs are not kept once fragments are resolved, and fragments with their own
 * `url` have none, so the endpoint is recovered from the URL itself: a URL that ends with the
 * fragment's encoded path was resolved under a base URL, and that base (the URL minus the path) is the
 * endpoint — the same for every fragment under it, whatever the number of base URLs. Any other URL
 * (a fragment's own `url`) is grouped by its origin. Queries and credentials are dropped: they may
 * carry tokens, and a report is no place for them.
 */
export function endpointOf(url: string, path: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return url;
  }
  const encoded = `/${path.split('/').map(encodeURIComponent).join('/')}`;
  if (parsed.pathname.endsWith(encoded)) {
    return `${parsed.origin}${parsed.pathname.slice(0, -encoded.length)}/`;
  }
  return `${parsed.origin}/`;
}
