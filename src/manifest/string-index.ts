/**
 * Strings to the position of the first item that has them, for a manifest's 10^6 ids or paths: an
 * open-addressing table of positions in one Int32Array, sized once for the count it is given. A
 * Set or Map of 900k strings took 0.8–1.4 s to fill (its table copied as it grows, each one a
 * large object the collector scans) and tens of MB; this hashes each string once (FNV-1a over its
 * UTF-16 code units), compares it only with the strings of its slot's chain, and allocates nothing
 * per entry. The strings stay where they are: `keyOf(position)` gives an entry's back.
 */
/**
 * The table of the last index released: the next index of its size takes it instead of 16 MB
 * more for 10^6 entries (a manifest's ids, then a mirror's paths: the first one's table was still
 * held when the second was made, its memory freed only by a full collection). Weakly: memory that
 * no index takes again is the collector's.
 */
let spare: WeakRef<Int32Array> | undefined;

export class StringIndex {
  /** Position + 1 of each entry, then its hash; a position of 0 is an empty slot. At most half are used. */
  #slots: Int32Array;
  #mask: number;
  #count = 0;
  readonly #keyOf: (position: number) => string;

  /** `capacity`: the entries it is sized for; it grows past them. */
  constructor(capacity: number, keyOf: (position: number) => string) {
    let size = 16;
    while (size < capacity * 2) size *= 2;
    const reused = spare?.deref();
    if (reused?.length === size * 2) {
      spare = undefined;
      this.#slots = reused.fill(0);
    } else this.#slots = new Int32Array(size * 2);
    this.#mask = size - 1;
    this.#keyOf = keyOf;
  }

  /** Done with: its table may serve the next index of its size; it is empty from now on. */
  release(): void {
    spare = new WeakRef(this.#slots);
    this.#slots = new Int32Array(32);
    this.#mask = 15;
    this.#count = 0;
  }

  /** The position already holding `key`; else `position` is recorded for it and -1 returned. */
  add(key: string, position: number): number {
    const slots = this.#slots;
    const h = hash(key);
    for (let slot = h & this.#mask; ; slot = (slot + 1) & this.#mask) {
      const held = slots[2 * slot]!;
      if (held === 0) {
        slots[2 * slot] = position + 1;
        slots[2 * slot + 1] = h;
        if (++this.#count * 4 > slots.length) this.#grow();
        return -1;
      }
      // The strings are compared only when their hashes are the same.
      if (slots[2 * slot + 1] === h && this.#keyOf(held - 1) === key) return held - 1;
    }
  }

  /** The position holding `key`, or -1. */
  get(key: string): number {
    const slots = this.#slots;
    const h = hash(key);
    for (let slot = h & this.#mask; ; slot = (slot + 1) & this.#mask) {
      const held = slots[2 * slot]!;
      if (held === 0) return -1;
      if (slots[2 * slot + 1] === h && this.#keyOf(held - 1) === key) return held - 1;
    }
  }

  #grow(): void {
    const old = this.#slots;
    const slots = new Int32Array(old.length * 2);
    const mask = slots.length / 2 - 1;
    for (let i = 0; i < old.length; i += 2) {
      if (old[i] === 0) continue;
      let slot = old[i + 1]! & mask;
      while (slots[2 * slot] !== 0) slot = (slot + 1) & mask;
      slots[2 * slot] = old[i]!;
      slots[2 * slot + 1] = old[i + 1]!;
    }
    this.#slots = slots;
    this.#mask = mask;
  }
}

function hash(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
  // Linear probing wants the low bits mixed with the high ones.
  return h ^ (h >>> 15);
}
