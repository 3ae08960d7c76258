interface Entry<T> {
  rank: number;
  seq: number;
  value: T;
}

/**
 * A sorted array with binary-search insertion: lowest rank first, FIFO among equal ranks. Work is
 * mostly enqueued in rank order, so insertion is usually an append.
 */
export class PriorityQueue<T> {
  #entries: Entry<T>[] = [];
  #seq = 0;

  get size(): number {
    return this.#entries.length;
  }

  push(value: T, rank: number): void {
    const entry = { rank, seq: this.#seq++, value };
    const entries = this.#entries;
    const last = entries[entries.length - 1];
    if (last === undefined || last.rank <= rank) {
      entries.push(entry);
      return;
    }
    // First index whose rank is greater than ours keeps FIFO among equals.
    let low = 0;
    let high = entries.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if (entries[mid]!.rank <= rank) low = mid + 1;
      else high = mid;
    }
    entries.splice(low, 0, entry);
  }

  /** The first value, left in place. */
  peek(): T | undefined {
    return this.#entries[0]?.value;
  }

  shift(): T | undefined {
    return this.#entries.shift()?.value;
  }

  remove(value: T): boolean {
    const index = this.#entries.findIndex((entry) => entry.value === value);
    if (index === -1) return false;
    this.#entries.splice(index, 1);
    return true;
  }
}
