/**
 * Coalesces writes: connections that queued frames during this event-loop turn are flushed once,
 * at the end of the turn (setImmediate, i.e. after every promise continuation of the turn has
 * run), so a burst of publications becomes one socket write per connection.
 *
 * Not a microtask: a REST write's events are published one `await` apart (hub.publishCommitted),
 * and a microtask queued by the first one would run, and write, before the second is queued.
 */
export interface Flushable {
  flush(): void;
}

export class FlushScheduler {
  readonly #dirty = new Set<Flushable>();
  #scheduled = false;
  readonly #run = () => {
    this.#scheduled = false;
    const dirty = [...this.#dirty];
    this.#dirty.clear();
    for (const item of dirty) item.flush();
  };

  mark(item: Flushable): void {
    this.#dirty.add(item);
    if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(this.#run);
    }
  }

  forget(item: Flushable): void {
    this.#dirty.delete(item);
  }
}
