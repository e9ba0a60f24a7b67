/** Response headers kept with a cached body: a 304 may omit them, and lists need their position. */
const CACHED_HEADERS = ['tandem-channel', 'tandem-epoch', 'tandem-position', 'link'] as const;

export interface CachedResponse {
  etag: string;
  body: unknown;
  headers: Record<string, string>;
}

export interface EtagCacheOptions {
  /** Most responses kept; the least recently used goes first. Default 200. */
  maxEntries?: number;
}

/**
 * GET answers by URL and the identity that fetched them, for revalidation: the client always
 * asks (If-None-Match), and a 304 means the kept body is current. Never served unasked, so a
 * kept body is never stale. Per identity, so one user's private answer never reaches another.
 *
 * @example
 * const cache = new EtagCache({ maxEntries: 500 });
 */
export class EtagCache {
  readonly #entries = new Map<string, CachedResponse>();
  readonly #maxEntries: number;

  constructor(options: EtagCacheOptions = {}) {
    const maxEntries = options.maxEntries ?? 200;
    if (!(Number.isInteger(maxEntries) && maxEntries >= 0)) throw new RangeError(`maxEntries must be a non-negative integer, got ${maxEntries}`);
    this.#maxEntries = maxEntries;
  }

  /** The key of a URL as fetched by an identity (a user id, or 'anonymous'). */
  static keyOf(url: string, identity: string): string {
    return `${identity} ${url}`;
  }

  get size(): number {
    return this.#entries.size;
  }

  /** The kept answer, marked most recently used. */
  get(key: string): CachedResponse | undefined {
    const entry = this.#entries.get(key);
    if (entry === undefined) return undefined;
    this.#entries.delete(key);
    this.#entries.set(key, entry);
    return entry;
  }

  /** Keeps an answer, evicting the least recently used beyond maxEntries. */
  set(key: string, entry: CachedResponse): void {
    if (this.#maxEntries === 0) return;
    this.#entries.delete(key);
    this.#entries.set(key, entry);
    // A Map iterates in insertion order: the first key is the least recently used.
    for (const oldest of this.#entries.keys()) {
      if (this.#entries.size <= this.#maxEntries) break;
      this.#entries.delete(oldest);
    }
  }

  delete(key: string): void {
    this.#entries.delete(key);
  }

  /** Forgets everything (on logout). */
  clear(): void {
    this.#entries.clear();
  }
}

/** The headers of interest from a response, for the cache. */
export function headersToKeep(headers: Headers): Record<string, string> {
  const kept: Record<string, string> = {};
  for (const name of CACHED_HEADERS) {
    const value = headers.get(name);
    if (value !== null) kept[name] = value;
  }
  return kept;
}

/** Whether a GET answer may be kept: it has an ETag and does not forbid storing. */
export function isCacheable(headers: Headers): boolean {
  const cacheControl = headers.get('cache-control') ?? '';
  return headers.get('etag') !== null && !/(^|,)\s*no-store\s*(,|$)/i.test(cacheControl);
}
