import type { Trust } from '../net/credentials.js';
import type { Manifest } from './fragment.js';

/** Where a manifest's credentials may go: the origins it names (its URL, its fragments'), and its logins. */
export function manifestTrust(manifest: Manifest): Trust {
  const prefixes = new Set<string>();
  const origins = new Set<string>();
  const add = (href: string) => {
    // The text up to the path, parsed once per host rather than once per fragment.
    const prefix = /^https?:\/\/[^/?#]+/i.exec(href)?.[0];
    if (prefix === undefined || prefixes.has(prefix)) return;
    prefixes.add(prefix);
    origins.add(new URL(prefix).origin);
  };
  add(manifest.source);
  for (const fragment of manifest.fragments) for (const url of fragment.urls) add(url);
  return { origins, userinfo: manifest.logins };
}
