import { type Netrc, netrcLogin } from './netrc.js';

/** Request headers that carry credentials: sent only where they belong (see Credentials). */
const CREDENTIAL_HEADERS = new Set(['authorization', 'cookie', 'proxy-authorization']);

export function basic(username: string, password: string): string {
  return `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
}

/**
 * A URL without its user information, and that information as a Basic credential for its origin:
 * the URL can then be printed, logged, keyed and stored; the credential stays in memory.
 */
export function splitUserinfo(href: string): { url: string; origin?: string; authorization?: string } {
  if (!href.includes('@')) return { url: href };
  let parsed: URL;
  try {
    parsed = new URL(href);
  } catch {
    return { url: href };
  }
  if (parsed.username === '' && parsed.password === '') return { url: href };
  const authorization = basic(decodeLogin(parsed.username), decodeLogin(parsed.password));
  parsed.username = '';
  parsed.password = '';
  return { url: parsed.href, origin: parsed.origin, authorization };
}

/** A login's percent-encoding decoded; as written when it does not decode (`%ZZ`, `%C3` alone). */
function decodeLogin(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/**
 * URLs without their logins, each login kept in `logins` by origin (see splitUserinfo): what is shown,
 * keyed in the cache or stored carries none, and the requests to that origin still log in.
 */
export function withoutLogins(urls: readonly string[], logins: Map<string, string>): string[] {
  return urls.map((href) => {
    const { url, origin, authorization } = splitUserinfo(href);
    if (origin !== undefined && authorization !== undefined) logins.set(origin, authorization);
    return url;
  });
}

/** Where a run's credentials may go: the origins the manifest names, and logins written in its URLs. */
export interface Trust {
  origins: Iterable<string>;
  /** Basic credentials by origin, from URLs such as `https://user:pw@host/`. */
  userinfo?: ReadonlyMap<string, string> | undefined;
}

export interface CredentialSources {
  /** `--header` values, credentials among them. */
  headers: Record<string, string>;
  /** FRAGFETCH_TOKEN: a bearer token. */
  token?: string | undefined;
  /** `--netrc`: logins by host. */
  netrc?: Netrc | undefined;
  trust?: Trust | undefined;
}

/**
 * Which credentials a request carries, as curl and undici's redirect handling decide: `--header`
 * credentials (Authorization, Cookie), FRAGFETCH_TOKEN and a URL's login go only to the manifest's
 * own origins, and only while a request stays on the origin it was sent to — never after a redirect
 * to another origin (a hub sending clients to a storage host must not hand it the token), never from
 * https down to http. A .netrc login names its host, so it goes to that host, never over a downgrade.
 */
export class Credentials {
  /** The `--header` values that are not credentials: sent with every request. */
  readonly plainHeaders: Record<string, string>;
  /** `Proxy-Authorization` from `--header`: for the proxy, never for an origin. */
  readonly proxyAuthorization: string | undefined;
  readonly #secret: Record<string, string> = {};
  readonly #token: string | undefined;
  readonly #netrc: Netrc | undefined;
  readonly #origins = new Set<string>();
  readonly #userinfo = new Map<string, string>();

  constructor(sources: CredentialSources) {
    const plain: Record<string, string> = {};
    let proxy: string | undefined;
    for (const [name, value] of Object.entries(sources.headers)) {
      const lower = name.toLowerCase();
      if (lower === 'proxy-authorization') proxy = value;
      else if (CREDENTIAL_HEADERS.has(lower)) this.#secret[lower] = value;
      else plain[lower] = value;
    }
    this.plainHeaders = plain;
    this.proxyAuthorization = proxy;
    this.#token = sources.token || undefined;
    this.#netrc = sources.netrc;
    if (sources.trust) this.trust(sources.trust);
  }

  /** Adds origins (and their logins) that credentials may go to. */
  trust(trust: Trust): void {
    for (const origin of trust.origins) this.#origins.add(origin);
    for (const [origin, authorization] of trust.userinfo ?? []) {
      this.#origins.add(origin);
      this.#userinfo.set(origin, authorization);
    }
  }

  /** True when no request can carry a credential: the common case, checked once per request. */
  get none(): boolean {
    return (
      this.#token === undefined &&
      this.#netrc === undefined &&
      this.#userinfo.size === 0 &&
      Object.keys(this.#secret).length === 0
    );
  }

  /**
   * The credential headers for a request to `url`, reached from `first` (the URL asked for, before
   * any redirect; the same URL for a first request).
   */
  headersFor(url: URL, first: URL): Record<string, string> | undefined {
    if (first.protocol === 'https:' && url.protocol === 'http:') return undefined;
    const out: Record<string, string> = {};
    if (url.origin === first.origin && this.#origins.has(url.origin)) {
      Object.assign(out, this.#secret);
      const login = this.#userinfo.get(url.origin) ?? (this.#token && `Bearer ${this.#token}`);
      if (out.authorization === undefined && login) out.authorization = login;
    }
    if (out.authorization === undefined && this.#netrc) {
      const login = netrcLogin(this.#netrc, url.hostname);
      if (login) out.authorization = basic(login.login, login.password);
    }
    return out;
  }
}

/** The origins a manifest names (its URL, its base URLs and fragment URLs). */
export function originsOf(urls: Iterable<string>): Set<string> {
  const origins = new Set<string>();
  for (const href of urls) {
    if (!/^https?:/i.test(href)) continue;
    try {
      origins.add(new URL(href).origin);
    } catch {
      // Not a URL: nothing to trust.
    }
  }
  return origins;
}
