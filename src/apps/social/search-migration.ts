import { sql, type Kysely } from 'kysely';
import type { Dialect } from 'tandem/server';

/**
 * 1008_search: the indexes search reads (src/apps/social/repos/search.ts), each store its own.
 *
 * SQLite: `posts_fts`, an FTS5 table over posts.body (external content: the text stays in `posts`,
 * the index only), kept in step by triggers, so the code that writes posts knows nothing of it;
 * filled from the posts already there. unicode61 without diacritics folding, as PostgreSQL's
 * 'simple' configuration (the two stores must find the same posts). People: an index on
 * lower(display_name) (usernames have their unique index).
 *
 * PostgreSQL: a GIN index on to_tsvector('simple', body) (the search query repeats that
 * expression, so the index serves it; being an index, it is built from the existing rows and
 * kept by PostgreSQL itself), and text_pattern_ops indexes for LIKE 'prefix%' on the username and
 * lower(display_name) (a collation-ordered index cannot serve LIKE).
 */
export async function addSearch(db: Kysely<unknown>, dialect: Dialect): Promise<void> {
  if (dialect === 'postgres') {
    await sql`create index posts_body_search on posts using gin (to_tsvector('simple', body))`.execute(db);
    await sql`create index users_username_prefix on users (username text_pattern_ops)`.execute(db);
    await sql`create index users_display_name_prefix on users (lower(display_name) text_pattern_ops)`.execute(db);
    return;
  }
  await sql`create index users_display_name_lower on users (lower(display_name))`.execute(db);
  await sql`create virtual table posts_fts using fts5(body, content='posts', content_rowid='id', tokenize='unicode61 remove_diacritics 0', prefix='2 3')`.execute(db);
  await sql`create trigger posts_fts_insert after insert on posts begin
    insert into posts_fts(rowid, body) values (new.id, new.body);
  end`.execute(db);
  await sql`create trigger posts_fts_delete after delete on posts begin
    insert into posts_fts(posts_fts, rowid, body) values ('delete', old.id, old.body);
  end`.execute(db);
  await sql`create trigger posts_fts_update after update of body on posts begin
    insert into posts_fts(posts_fts, rowid, body) values ('delete', old.id, old.body);
    insert into posts_fts(rowid, body) values (new.id, new.body);
  end`.execute(db);
  await sql`insert into posts_fts(posts_fts) values ('rebuild')`.execute(db);
}
