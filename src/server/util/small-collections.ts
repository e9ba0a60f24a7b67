/**
 * A Map for the common case of one entry: the entry is kept inline and a real Map is created
 * only when a second key arrives. Per-connection bookkeeping (a connection's subscriptions, a
 * session's sockets) is usually one entry, and an empty Map costs ~200 bytes per connection.
 */
export class SmallMap<K, V> {
  #key: K | undefined;
  #value: V | undefined;
  #single = false;
  #map: Map<K, V> | undefined;

  get size(): number {
    return this.#map?.size ?? (this.#single ? 1 : 0);
  }

  get(key: K): V | undefined {
    if (this.#map !== undefined) return this.#map.get(key);
    return this.#single && this.#key === key ? this.#value : undefined;
  }

  has(key: K): boolean {
    if (this.#map !== undefined) return this.#map.has(key);
    return this.#single && this.#key === key;
  }

  set(key: K, value: V): this {
    if (this.#map !== undefined) {
      this.#map.set(key, value);
    } else if (!this.#single || this.#key === key) {
      this.#key = key;
      this.#value = value;
      this.#single = true;
    } else {
      this.#map = new Map([[this.#key as K, this.#value as V], [key, value]]);
      this.#key = undefined;
      this.#value = undefined;
      this.#single = false;
    }
    return this;
  }

  delete(key: K): boolean {
    if (this.#map !== undefined) return this.#map.delete(key);
    if (!this.#single || this.#key !== key) return false;
    this.#key = undefined;
    this.#value = undefined;
    this.#single = false;
    return true;
  }

  *values(): IterableIterator<V> {
    if (this.#map !== undefined) yield* this.#map.values();
    else if (this.#single) yield this.#value as V;
  }
}

/** The same idea for a set: one member inline, a real Set's worth of Map only from two on. */
export class SmallSet<T> {
  readonly #members = new SmallMap<T, T>();

  get size(): number {
    return this.#members.size;
  }

  add(value: T): this {
    this.#members.set(value, value);
    return this;
  }

  has(value: T): boolean {
    return this.#members.has(value);
  }

  delete(value: T): boolean {
    return this.#members.delete(value);
  }

  [Symbol.iterator](): IterableIterator<T> {
    return this.#members.values();
  }
}
