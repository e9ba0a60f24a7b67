type Listener = (...args: never[]) => void;

/**
 * A small typed event emitter. Each registration is its own entry, so one function added twice
 * is called twice and each `on` returns the remover of that one registration. A throwing
 * listener does not stop the others or the client: its error is rethrown asynchronously,
 * where it cannot unwind the client's state.
 */
export class Emitter<Events extends { [K in keyof Events]: Listener }> {
  #entries = new Map<keyof Events, Array<{ listener: Listener }>>();

  /** Adds a listener; returns a function that removes this one registration. */
  on<K extends keyof Events>(event: K, listener: Events[K]): () => void {
    const entry = { listener };
    this.#entries.set(event, [...(this.#entries.get(event) ?? []), entry]);
    return () => {
      this.#entries.set(event, (this.#entries.get(event) ?? []).filter((e) => e !== entry));
    };
  }

  emit<K extends keyof Events>(event: K, ...args: Parameters<Events[K]>): void {
    // A snapshot: listeners added or removed by a listener take effect from the next emit.
    for (const { listener } of this.#entries.get(event) ?? []) {
      try {
        (listener as unknown as (...a: Parameters<Events[K]>) => void)(...args);
      } catch (error) {
        queueMicrotask(() => {
          throw error;
        });
      }
    }
  }
}
