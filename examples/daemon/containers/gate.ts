// Who may send an attempt now. A process that crashes takes every job in flight on it down with
// it, and the dispatcher cannot tell which of them crashed it: each sees the same
// UnavailableError. So a job whose replica was lost is a *suspect*: it is tried again alone (no
// other attempt in flight), where a crash can only be its own. Only attempts made alone count a
// lost replica against the job; a good job next to a poison one is never set aside for it.

/** Admits attempts: any number side by side, or one suspect alone. */
export class Gate {
  #side = 0;
  #alone = false;
  #suspects: (() => void)[] = [];
  #others: (() => void)[] = [];

  /** Whether a suspect runs or waits (then nothing new should be claimed). */
  get isolating(): boolean {
    return this.#alone || this.#suspects.length > 0;
  }

  /** Attempts in flight. */
  get inFlight(): number {
    return this.#side + (this.#alone ? 1 : 0);
  }

  /**
   * Resolves when an attempt may go: `alone` once nothing else is in flight, otherwise once no
   * suspect runs or waits. False if `signal` aborted first (the caller then sends nothing).
   */
  enter(alone: boolean, signal: AbortSignal): Promise<boolean> {
    if (signal.aborted) return Promise.resolve(false);
    if (alone ? this.#free() : !this.isolating) {
      this.#take(alone);
      return Promise.resolve(true);
    }
    return new Promise((resolve) => {
      const waiters = alone ? this.#suspects : this.#others;
      const admit = () => {
        signal.removeEventListener("abort", abort);
        resolve(true);
      };
      const abort = () => {
        const at = waiters.indexOf(admit);
        if (at >= 0) waiters.splice(at, 1);
        resolve(false);
        this.#wake();
      };
      waiters.push(admit);
      signal.addEventListener("abort", abort, { once: true });
    });
  }

  /** An attempt `enter` admitted is over. */
  leave(alone: boolean): void {
    if (alone) this.#alone = false;
    else this.#side--;
    this.#wake();
  }

  #free(): boolean {
    return !this.#alone && this.#side === 0;
  }

  #take(alone: boolean): void {
    if (alone) this.#alone = true;
    else this.#side++;
  }

  #wake(): void {
    if (this.#suspects.length > 0) {
      if (this.#free()) {
        this.#take(true);
        this.#suspects.shift()!();
      }
      return;
    }
    if (this.#alone) return;
    for (const admit of this.#others.splice(0)) {
      this.#take(false);
      admit();
    }
  }
}
