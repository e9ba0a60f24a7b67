import { describe, expect, it } from 'vitest';
import { EtagCache, headersToKeep, isCacheable } from '../../src/client/etag-cache';

const entry = (etag: string) => ({ etag, body: { etag }, headers: {} });

describe('EtagCache', () => {
  it('evicts the least recently used entry beyond maxEntries', () => {
    const cache = new EtagCache({ maxEntries: 2 });
    cache.set('a', entry('"a"'));
    cache.set('b', entry('"b"'));
    expect(cache.get('a')?.etag).toBe('"a"'); // a is now the most recent
    cache.set('c', entry('"c"'));
    expect(cache.get('b')).toBeUndefined();
    expect(cache.get('a')?.etag).toBe('"a"');
    expect(cache.get('c')?.etag).toBe('"c"');
    expect(cache.size).toBe(2);
  });

  it('replaces an entry in place and keeps nothing with maxEntries 0', () => {
    const cache = new EtagCache({ maxEntries: 2 });
    cache.set('a', entry('"1"'));
    cache.set('a', entry('"2"'));
    expect(cache.size).toBe(1);
    expect(cache.get('a')?.etag).toBe('"2"');
    const none = new EtagCache({ maxEntries: 0 });
    none.set('a', entry('"1"'));
    expect(none.size).toBe(0);
    expect(() => new EtagCache({ maxEntries: -1 })).toThrow(RangeError);
  });

  it('keys by identity, so one user never revalidates against another user\'s copy', () => {
    expect(EtagCache.keyOf('/api/me', 'user:1')).not.toBe(EtagCache.keyOf('/api/me', 'user:2'));
  });

  it('keeps only answers with an ETag and without no-store, and only the headers of interest', () => {
    expect(isCacheable(new Headers({ etag: '"x"', 'cache-control': 'private, no-cache' }))).toBe(true);
    expect(isCacheable(new Headers({ etag: '"x"', 'cache-control': 'private, no-store' }))).toBe(false);
    expect(isCacheable(new Headers({ 'cache-control': 'public' }))).toBe(false);
    const kept = headersToKeep(new Headers({ 'tandem-channel': 'feed', 'tandem-epoch': 'e1', 'tandem-position': '4', 'x-request-id': 'r' }));
    expect(kept).toEqual({ 'tandem-channel': 'feed', 'tandem-epoch': 'e1', 'tandem-position': '4' });
  });
});
