/**
 * The test CDN's objects: registered bodies with their versions and validators, and mounted
 * directories served like nginx's `root`.
 */
import { createHash } from 'node:crypto';
import { statSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import type { BodySource } from './cdn-body.js';

export type Body = BodySource;

export interface StoreOptions {
  /** false: a server without range support (Range and If-Range ignored, no Accept-Ranges). */
  ranges?: boolean;
  /** Bytes per second per response, like nginx's `limit_rate`; an object's own setting wins. */
  limitRate?: number;
  /** false: no derived ETag (an explicit per-object `etag` is still sent). */
  etags?: boolean;
  /** false: no derived Last-Modified (an explicit per-object `lastModified` is still sent). */
  lastModified?: boolean;
}

export interface ObjectOptions {
  /** The ETag header value (`"x"` or `W/"x"`; bare text gets quoted); null: none; omitted: derived. */
  etag?: string | null;
  /** Make the derived ETag weak. */
  weakEtag?: boolean;
  /** null: none; omitted: derived, and later than the previous version's. */
  lastModified?: Date | null;
  limitRate?: number;
  contentType?: string;
  /** Per-object override of the server's `ranges`. */
  ranges?: boolean;
}

interface StoredObject {
  body: Body;
  size: number;
  version: number;
  options: ObjectOptions;
  etag: string | null;
  lastModified: Date | null;
}

export interface Resolved {
  body: Body;
  size: number;
  etag: string | null;
  lastModified: Date | null;
  limitRate: number | undefined;
  contentType: string;
  ranges: boolean;
}

// Derived Last-Modified values are deterministic so two CDNs with the same objects agree, like mirrors.
const EPOCH = Date.UTC(2024, 0, 1);

function contentTypeOf(p: string): string {
  return p.toLowerCase().endsWith('.json') ? 'application/json' : 'application/octet-stream';
}

export function normalisePath(p: string): string {
  return p.startsWith('/') ? p : `/${p}`;
}

function quoteEtag(etag: string): string {
  return /^(W\/)?".*"$/.test(etag) ? etag : `"${etag}"`;
}

export class ObjectStore {
  private readonly objects = new Map<string, StoredObject>();
  private readonly mounts = new Map<string, { dir: string; limitRate: number | undefined }>();

  constructor(private readonly options: StoreOptions) {}

  set(p: string, body: Body, opts: ObjectOptions = {}): void {
    const key = normalisePath(p);
    const previous = this.objects.get(key);
    const version = (previous?.version ?? 0) + 1;
    const size = Buffer.isBuffer(body) ? body.length : statSync(body.file).size;
    this.objects.set(key, {
      body,
      size,
      version,
      options: opts,
      etag: this.etagFor(body, size, version, opts),
      lastModified: this.lastModifiedFor(version, previous?.lastModified ?? null, opts),
    });
  }

  delete(p: string): boolean {
    return this.objects.delete(normalisePath(p));
  }

  mount(prefix: string, dir: string, opts: { limitRate?: number } = {}): void {
    this.mounts.set(normalisePath(prefix).replace(/\/+$/, ''), {
      dir: path.resolve(dir),
      limitRate: opts.limitRate,
    });
  }

  /** The options an object was registered with, for a change that keeps them. */
  optionsOf(key: string): ObjectOptions {
    return this.objects.get(key)?.options ?? {};
  }

  async resolve(key: string): Promise<Resolved | undefined> {
    const ranges = this.options.ranges !== false;
    const stored = this.objects.get(key);
    if (stored) {
      const { options } = stored;
      return {
        body: stored.body,
        size: stored.size,
        etag: stored.etag,
        lastModified: stored.lastModified,
        limitRate: options.limitRate ?? this.options.limitRate,
        contentType: options.contentType ?? contentTypeOf(key),
        ranges: options.ranges ?? ranges,
      };
    }
    for (const [prefix, mount] of this.mounts) {
      if (!key.startsWith(`${prefix}/`) || key.includes('\0')) continue;
      const file = path.resolve(mount.dir, `.${key.slice(prefix.length)}`);
      if (!file.startsWith(mount.dir + path.sep)) continue;
      const info = await stat(file).catch(() => undefined);
      if (!info?.isFile()) continue;
      const mtime = Math.floor(info.mtimeMs / 1000);
      return {
        body: { file },
        size: info.size,
        // nginx's ETag: hex mtime and size.
        etag: this.options.etags === false ? null : `"${mtime.toString(16)}-${info.size.toString(16)}"`,
        lastModified: this.options.lastModified === false ? null : new Date(mtime * 1000),
        limitRate: mount.limitRate ?? this.options.limitRate,
        contentType: contentTypeOf(file),
        ranges,
      };
    }
    return undefined;
  }

  private etagFor(body: Body, size: number, version: number, opts: ObjectOptions): string | null {
    if (opts.etag !== undefined) return opts.etag === null ? null : quoteEtag(opts.etag);
    if (this.options.etags === false) return null;
    // Size and version, plus a cheap content sample so same-sized objects differ; no path, so two
    // CDNs serving the same bytes agree, as mirrors would.
    const hash = createHash('sha1').update(`${size}:${version}:`);
    if (Buffer.isBuffer(body)) hash.update(body.subarray(0, 64)).update(body.subarray(-64));
    else hash.update(`${path.resolve(body.file)}:${statSync(body.file).mtimeMs}`);
    const tag = `"${hash.digest('hex').slice(0, 24)}"`;
    return opts.weakEtag ? `W/${tag}` : tag;
  }

  private lastModifiedFor(version: number, previous: Date | null, opts: ObjectOptions): Date | null {
    if (opts.lastModified !== undefined) return opts.lastModified;
    if (this.options.lastModified === false) return null;
    // Strictly later than the previous version, or If-Range by date could splice two versions.
    const floor = previous === null ? 0 : Math.floor(previous.getTime() / 1000) * 1000 + 1000;
    return new Date(Math.max(EPOCH + version * 1000, floor));
  }
}
