import type { Timers } from './platform';

/**
 * One pending timer at a time: scheduling replaces the pending one. A transport's connect
 * timeout and then its heartbeat share one slot, so a finished transport clears one thing.
 */
export class TimerSlot {
  readonly #timers: Timers;
  #handle: unknown;

  constructor(timers: Timers) {
    this.#timers = timers;
  }

  schedule(callback: () => void, ms: number): void {
    this.clear();
    this.#handle = this.#timers.setTimeout(() => {
      this.#handle = undefined;
      callback();
    }, ms);
  }

  clear(): void {
    if (this.#handle !== undefined) this.#timers.clearTimeout(this.#handle);
    this.#handle = undefined;
  }
}
