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

/** Marks the values of a key that has several; a single value is stored as is. */
class Several<V> extends Set<V> {}

/**
 * A Map from key to a set of values where a key with a single value (the usual case: one socket
 * per session) stores that value directly, with no Set, SmallSet or SmallMap object per key.
 * Values must be objects (never a Set of this module's own kind).
 */
export class SetMultimap<K, V extends object> {
  readonly #map = new Map<K, V | Several<V>>();

  /** Number of keys. */
  get size(): number {
    return this.#map.size;
  }

  add(key: K, value: V): void {
    const current = this.#map.get(key);
    if (current === undefined) this.#map.set(key, value);
    else if (current instanceof Several) current.add(value);
    else if (current !== value) this.#map.set(key, new Several([current, value]));
  }

  /** Removes one value of a key; the key goes once it has none. */
  delete(key: K, value: V): boolean {
    const current = this.#map.get(key);
    if (current === undefined) return false;
    if (current instanceof Several) {
      if (!current.delete(value)) return false;
      if (current.size === 1) this.#map.set(key, current.values().next().value as V);
      return true;
    }
    if (current !== value) return false;
    this.#map.delete(key);
    return true;
  }

  /** The values of a key, as a snapshot (safe to change the multimap while iterating it). */
  get(key: K): V[] {
    const current = this.#map.get(key);
    if (current === undefined) return [];
    return current instanceof Several ? [...current] : [current];
  }
}
