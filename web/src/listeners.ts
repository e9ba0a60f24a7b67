/**
 * A set of listeners. Each `add` is its own entry (the same function added twice is called twice
 * and removed once per remover), and `emit` calls those there when it starts, so a listener may
 * remove itself or add another while it runs.
 */
export class Listeners<A extends unknown[] = []> {
  readonly #entries = new Set<{ listener: (...args: A) => void }>();

  /** Adds `listener`; returns its remover. */
  add(listener: (...args: A) => void): () => void {
    const entry = { listener };
    this.#entries.add(entry);
    return () => this.#entries.delete(entry);
  }

  emit(...args: A): void {
    for (const { listener } of [...this.#entries]) listener(...args);
  }

  clear(): void {
    this.#entries.clear();
  }
}
