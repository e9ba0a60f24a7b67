import { Type, type Static } from 'typebox';
import { TandemError } from '../errors';

export const PageQuery = Type.Object({
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 20, description: 'Items per page (1-100)' })),
  cursor: Type.Optional(Type.String({ maxLength: 64, description: 'Opaque cursor from a previous page' })),
});
export type PageQuery = Static<typeof PageQuery>;

/** An opaque cursor that carries the id the next page starts after. */
export function encodeCursor(id: number): string {
  return Buffer.from(`c1:${id}`).toString('base64url');
}

/**
 * The id a cursor carries; invalid_cursor unless it is spelled exactly as encodeCursor spells it.
 * Node's base64 decoder skips characters it does not know (quotes, spaces, CR/LF), and the
 * cursor goes into the list's ETag header, so a lenient decode let `?cursor=...%0d%0a` 500.
 */
const MAX_ID = 2_147_483_647;

export function decodeCursor(cursor: string | undefined): number | undefined {
  if (cursor === undefined) return undefined;
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(cursor)) throw new TandemError('invalid_cursor');
  const text = Buffer.from(cursor, 'base64url').toString('utf8');
  const match = /^c1:(\d{1,16})$/.exec(text);
  const id = Number(match?.[1]);
  // Ids are 32-bit (PostgreSQL `serial`): a larger one names no row and must not reach the query.
  if (match === null || !Number.isSafeInteger(id) || id > MAX_ID || encodeCursor(id) !== cursor) throw new TandemError('invalid_cursor');
  return id;
}

/**
 * Fetches `limit + 1` rows to learn whether a next page exists without a count query.
 * Returns the page and the cursor for the next one, if any.
 */
export function paginate<T extends { id: number }>(rows: T[], limit: number): { items: T[]; nextCursor: string | null } {
  if (rows.length <= limit) return { items: rows, nextCursor: null };
  const items = rows.slice(0, limit);
  const last = items[items.length - 1];
  return { items, nextCursor: last === undefined ? null : encodeCursor(last.id) };
}

/** An RFC 8288 Link header for the next page, keeping the other query parameters. */
export function nextLink(url: string, nextCursor: string | null): Record<string, string> {
  if (nextCursor === null) return {};
  const parsed = new URL(url, 'http://localhost');
  parsed.searchParams.set('cursor', nextCursor);
  return { link: `<${parsed.pathname}${parsed.search}>; rel="next"` };
}
