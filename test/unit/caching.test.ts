import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { etag, ifMatchSatisfied, noneMatch } from '../../src/server/http/caching';
import { decodeCursor, encodeCursor, paginate } from '../../src/server/http/pagination';
import { TandemError } from '../../src/server/errors';

describe('conditional request comparisons', () => {
  const current = etag('post', 7, 'v3');

  it('builds strong, quoted tags', () => {
    expect(current).toBe('"post.7.v3"');
  });

  it('percent-encodes a part an entity tag cannot hold, so any scope makes a valid header', () => {
    expect(etag('room "a"', 3)).toBe('"room%20%22a%22.3"');
    expect(etag('line\r\nbreak', 'é')).toBe('"line%0D%0Abreak.%C3%A9"');
    fc.assert(fc.property(fc.string(), fc.integer(), (scope, n) => /^"[\x21\x23-\x7e]*"$/.test(etag(scope, n))));
  });

  it('If-None-Match: weak comparison, lists and *', () => {
    expect(noneMatch(undefined, current)).toBe(true);
    expect(noneMatch(current, current)).toBe(false);
    expect(noneMatch(`W/${current}`, current)).toBe(false);
    expect(noneMatch(`"other", ${current}`, current)).toBe(false);
    expect(noneMatch('*', current)).toBe(false);
    expect(noneMatch('"post.7.v2"', current)).toBe(true);
  });

  it('If-Match: strong comparison; weak tags never match; * matches an existing resource', () => {
    expect(ifMatchSatisfied(undefined, current)).toBe(true);
    expect(ifMatchSatisfied(current, current)).toBe(true);
    expect(ifMatchSatisfied(`W/${current}`, current)).toBe(false);
    expect(ifMatchSatisfied('"a", "post.7.v3"', current)).toBe(true);
    expect(ifMatchSatisfied('*', current)).toBe(true);
    expect(ifMatchSatisfied('*', undefined)).toBe(false);
    expect(ifMatchSatisfied('"post.7.v2"', current)).toBe(false);
  });
});

describe('cursors', () => {
  it('round-trips any id (property), and refuses one beyond 32 bits (ids are PostgreSQL serials)', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 2_147_483_647 }), (id) => decodeCursor(encodeCursor(id)) === id));
    fc.assert(fc.property(fc.integer({ min: 2_147_483_648, max: Number.MAX_SAFE_INTEGER }), (id) => {
      expect(() => decodeCursor(encodeCursor(id))).toThrow(expect.objectContaining({ code: 'invalid_cursor' }));
    }));
  });

  it('refuses anything that is not a cursor with invalid_cursor, never another error (property)', () => {
    fc.assert(
      fc.property(fc.string(), (text) => {
        try {
          const id = decodeCursor(text);
          return typeof id === 'number' && encodeCursor(id) !== undefined;
        } catch (error) {
          return error instanceof TandemError && error.code === 'invalid_cursor';
        }
      }),
    );
  });

  it('paginate takes limit+1 rows to know whether there is a next page', () => {
    const rows = [5, 4, 3].map((id) => ({ id }));
    expect(paginate(rows, 3)).toEqual({ items: rows, nextCursor: null });
    const page = paginate(rows, 2);
    expect(page.items.map((r) => r.id)).toEqual([5, 4]);
    expect(decodeCursor(page.nextCursor!)).toBe(4);
  });
});
