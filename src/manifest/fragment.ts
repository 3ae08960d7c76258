/** Download order classes, most urgent first. */
export const PRIORITIES = ['critical', 'high', 'normal', 'low', 'background'] as const;
export type Priority = (typeof PRIORITIES)[number];

export type HashAlgorithm = 'sha256' | 'sha384' | 'sha512';

/** A parsed integrity declaration; `digest` is always base64 so two spellings of one hash compare equal. */
export interface Integrity {
  algorithm: HashAlgorithm;
  digest: string;
  /** The SRI form, e.g. `sha256-47DEQ...=`. */
  sri: string;
}

/** A manifest fragment after validation and URL resolution: everything the engine needs. */
export interface Fragment {
  id: string;
  /** Relative POSIX path: where `mirror` writes it. */
  path: string;
  /**
   * Candidate URLs, mirrors of one another, in failover order (at least one). For a manifest's
   * fragment it may be a getter of its prototype (resolve.ts): a copy names it (`{ ...f, urls: f.urls }`).
   */
  urls: string[];
  /** Start of the byte range within the remote object; absent for a whole object. */
  offset?: number;
  /** Declared size in bytes; required with `offset`. */
  size?: number;
  integrity?: Integrity;
  priority: Priority;
  importance: number;
  /** Position in the manifest, the last tie-breaker of the download order. */
  index: number;
}

export interface Manifest {
  version: 1;
  name?: string;
  /** Where the manifest was read from: a file path or a URL. */
  source: string;
  fragments: Fragment[];
  /**
   * Logins that were written in the manifest's URLs, as Basic credentials by origin; the URLs above
   * carry none. Sent only to that origin (net/credentials.ts).
   */
  logins?: ReadonlyMap<string, string>;
}
