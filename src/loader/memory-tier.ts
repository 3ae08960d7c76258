/** What the memory tier did, apart from the disk cache's own hits and misses. */
export interface MemoryTierStats {
  hits: number;
  misses: number;
  evictions: number;
  /** Bytes held now. */
  bytes: number;
}

/**
 * Whole small fragments kept in memory for a program that reads them again and again: least
 * recently used first out, within `capacity` bytes. A fragment larger than an eighth of it is never
 * kept, so one large read cannot empty the tier. Keyed by content (integrity): two names of the same
 * bytes share one entry.
 */
export class MemoryTier {
  readonly capacity: number;
  readonly #entries = new Map<string, Buffer>();
  readonly stats: MemoryTierStats = { hits: 0, misses: 0, evictions: 0, bytes: 0 };

  constructor(capacity: number) {
    this.capacity = capacity;
  }

  get(key: string): Buffer | undefined {
    const bytes = this.#entries.get(key);
    if (bytes === undefined) {
      this.stats.misses++;
      return undefined;
    }
    // Map order is the recency order: taken out and put back, it is the most recent.
    this.#entries.delete(key);
    this.#entries.set(key, bytes);
    this.stats.hits++;
    return bytes;
  }

  set(key: string, bytes: Buffer): void {
    if (bytes.length > this.capacity / 8 || this.#entries.has(key)) return;
    this.#entries.set(key, bytes);
    this.stats.bytes += bytes.length;
    for (const [oldest, held] of this.#entries) {
      if (this.stats.bytes <= this.capacity) break;
      this.#entries.delete(oldest);
      this.stats.bytes -= held.length;
      this.stats.evictions++;
    }
  }
}
