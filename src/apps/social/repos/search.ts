import { sql, type Kysely, type RawBuilder } from 'kysely';
import type { Dialect } from 'tandem/server';
import type { SocialDb } from '../db';
import type { Post, UserRef } from '../schemas';
import { selectPosts, toPost } from './posts';
import { withReactions } from './reactions';
import { toUserRef } from './users';

/**
 * Search, one contract over both stores: the same questions, the same answers, each store asking
 * its own index. People: a prefix of a username or a display name, case-insensitive (the store's
 * lower(): ASCII on SQLite, the database's locale on PostgreSQL), served by an index on each
 * store. Posts: full text, every word of the query (the last one as a prefix), ranked by relevance
 * (SQLite FTS5's bm25, PostgreSQL's ts_rank) then newest first, paged by a cursor.
 *
 * The words come from searchTerms (../search-terms.ts), never from the person's text as index
 * syntax: FTS5 gets each word as a quoted string, PostgreSQL a tsquery built from quoted lexemes.
 */

/** The largest page of people. */
export const MAX_PEOPLE = 20;

/** `text` with LIKE's wildcards and its escape character escaped, for `LIKE … ESCAPE '\'`. */
export function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, (c) => `\\${c}`);
}

/** The largest code point: `prefix || MAX_CHAR` is above every string that starts with `prefix`. */
const MAX_CHAR = String.fromCodePoint(0x10ffff);

/**
 * The condition "username or display name starts with `prefix`", as each store's index serves it.
 * SQLite's LIKE uses no index on an expression, so there it is a range on the indexes (text
 * compares by code point: [p, p + U+10FFFF) holds exactly the strings that start with p).
 * PostgreSQL compares by collation, so there it is LIKE on text_pattern_ops indexes.
 */
const PEOPLE_MATCH: Record<Dialect, (prefix: string) => RawBuilder<boolean>> = {
  sqlite: (prefix) => {
    const name = prefix.toLowerCase();
    return sql<boolean>`((username >= ${name} and username < ${name + MAX_CHAR})
      or (lower(display_name) >= lower(${prefix}) and lower(display_name) < lower(${prefix}) || ${MAX_CHAR}))`;
  },
  postgres: (prefix) => {
    const pattern = `${escapeLike(prefix)}%`;
    return sql<boolean>`(username like ${pattern.toLowerCase()} escape '\\' or lower(display_name) like lower(${pattern}) escape '\\')`;
  },
};

/**
 * People whose username or display name starts with `prefix`: the exact username first, then the
 * usernames that start with it, then the display names, each by username. `prefix` is trimmed
 * and not empty (the route's schema says so).
 */
export async function searchPeople(db: Kysely<SocialDb>, dialect: Dialect, prefix: string, limit: number): Promise<UserRef[]> {
  const name = prefix.toLowerCase();
  const rows = await db
    .selectFrom('users')
    .select(['id', 'username', 'display_name', 'avatar_hash'])
    .where(PEOPLE_MATCH[dialect](prefix))
    .orderBy(sql`case when username = ${name} then 0 when substr(username, 1, ${name.length}) = ${name} then 1 else 2 end`)
    // By code point on both stores (SQLite's BINARY; PostgreSQL's database collation may differ).
    .orderBy(dialect === 'postgres' ? sql`username collate "C"` : sql`username`)
    .limit(Math.min(limit, MAX_PEOPLE))
    .execute();
  return rows.map((row) => toUserRef(row.id, row));
}

/**
 * How many of the newest matching posts are ranked. Ranking costs per matching post (bm25; on
 * PostgreSQL ts_rank over a tsvector computed from the body), so a word in most posts would cost
 * seconds (bench/search/run.ts); the best matches among the newest thousand cost a few ms, and a
 * social app's reader wants recent posts anyway.
 */
export const MAX_CANDIDATES = 1000;

/** The posts that match, as rows `{ id, score }`: a higher score is a better match. */
type Hits = RawBuilder<{ id: number; score: number }>;

/**
 * Each store's full-text match of the terms. FTS5: each term a quoted string (quotes doubled), the
 * last one a prefix (`"word"*`), all of them required; bm25 is lower for better, so its negation.
 * PostgreSQL: the same terms as quoted lexemes joined with & (the last `:*`) for to_tsquery with
 * the 'simple' configuration (no stemming, as FTS5's unicode61), against the GIN index's expression.
 */
const POST_MATCH: Record<Dialect, (terms: readonly string[]) => Hits> = {
  sqlite: (terms) => {
    const match = terms.map((t, i) => `"${t.replaceAll('"', '""')}"${i === terms.length - 1 ? '*' : ''}`).join(' ');
    return sql`(select rowid as id, -bm25(posts_fts) as score from posts_fts where posts_fts match ${match} order by rowid desc limit ${MAX_CANDIDATES})`;
  },
  postgres: (terms) => {
    const query = terms.map((t, i) => `'${t.replaceAll('\\', '\\\\').replaceAll("'", "''")}'${i === terms.length - 1 ? ':*' : ''}`).join(' & ');
    return sql`(select c.id, ts_rank(to_tsvector('simple', c.body), c.query, 1)::float8 as score
      from (select p.id, p.body, q.query from posts p, to_tsquery('simple', ${query}) as q(query)
        where to_tsvector('simple', p.body) @@ q.query order by p.id desc limit ${MAX_CANDIDATES}) as c)`;
  },
};

/**
 * One page of the posts that contain every term: best match first, then newest; `limit + 1` rows
 * so the caller can tell whether a next page exists. The cursor is the id of the last post of the
 * previous page: the page continues after that post's place, read again in this snapshot (if it
 * matches no longer, because it was edited or deleted, the list has changed and the page is empty).
 */
export async function searchPosts(db: Kysely<SocialDb>, dialect: Dialect, terms: readonly string[], afterId: number | undefined, limit: number): Promise<Post[]> {
  if (terms.length === 0) return [];
  const hits = () => POST_MATCH[dialect](terms).as('hits');
  let query = selectPosts(db)
    .innerJoin(hits(), 'hits.id', 'posts.id')
    .orderBy('hits.score', 'desc')
    .orderBy('posts.id', 'desc')
    .limit(limit + 1);
  if (afterId !== undefined) {
    // `id + 0`: no rowid constraint reaches FTS5, whose `rowid = ?` beside a MATCH (SQLite 3.53)
    // answered a neighbouring row for a row no longer in the index.
    const after = await db.selectFrom(hits()).select('hits.score').where(sql<number>`hits.id + 0`, '=', afterId).executeTakeFirst();
    if (after === undefined) return [];
    const score = Number(after.score);
    query = query.where((eb) => eb.or([eb('hits.score', '<', score), eb.and([eb('hits.score', '=', score), eb('posts.id', '<', afterId)])]));
  }
  return withReactions(db, 'post', (await query.execute()).map(toPost));
}
