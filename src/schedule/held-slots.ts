/** A reserved slot taken for a request: `release` when the request is over, `answered` at its answer. */
export interface TakenSlot {
  release: () => void;
  answered: () => void;
}

/**
 * Request slots acquired ahead for one download (a large object's first connections): taken one by
 * one by its requests, or given back when it needs fewer. `opened` settles once every one of them
 * has been given back or has carried a request the server answered, so that whoever reserved them
 * knows the download's first round is under way at the server, not merely queued on our side.
 */
export class HeldSlots {
  readonly opened: Promise<void>;
  #slots: (() => void)[];
  #unanswered: number;
  #resolve!: () => void;

  constructor(slots: readonly (() => void)[]) {
    this.#slots = [...slots];
    this.#unanswered = slots.length;
    this.opened = new Promise((resolve) => {
      this.#resolve = resolve;
    });
    this.#check();
  }

  take(): TakenSlot | undefined {
    const release = this.#slots.shift();
    if (!release) return undefined;
    let answered = false;
    return {
      release,
      answered: () => {
        if (answered) return;
        answered = true;
        this.#unanswered--;
        this.#check();
      },
    };
  }

  /** Gives back every slot not taken beyond the first `count`. */
  keep(count: number): void {
    const given = this.#slots.splice(count);
    this.#unanswered -= given.length;
    for (const release of given) release();
    this.#check();
  }

  #check(): void {
    if (this.#unanswered === 0) this.#resolve();
  }
}
