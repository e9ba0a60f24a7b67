import { CompiledQuery, createQueryId, sql, type Kysely, type RootOperationNode } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SocialDb } from '../src/apps/social/db';
import { socialMigrations } from '../src/apps/social/migrations';
import { createPost, deletePost, updatePost } from '../src/apps/social/repos/posts';
import { escapeLike, MAX_CANDIDATES, searchPeople, searchPosts } from '../src/apps/social/repos/search';
import { updateProfile } from '../src/apps/social/repos/users';
import { searchTerms } from '../src/apps/social/search-terms';
import { createAccount } from '../src/server/auth/accounts';
import { CommitAnnouncer, inTransaction } from '../src/server/store/channel-log';
import { libraryMigrations } from '../src/server/store/library-migrations';
import { migrate } from '../src/server/store/migrate';
import { storesUnderTest, type StoreUnderTest } from './support/stores';

/**
 * The search contract (src/apps/social/repos/search.ts), store by store: the same questions must
 * get the same answers from SQLite FTS5 and from PostgreSQL's text search, and each store's index
 * must be the one serving them. Opens the stores as test/store-contract.test.ts does.
 */

const stores = await storesUnderTest();

/** Queries whose characters mean something to FTS5 or tsquery syntax, or to SQL. */
const HOSTILE = [
  '"', '""', '"unbalanced', '*', 'a*b', 'NEAR(a b)', 'NEAR', 'OR', 'AND', 'NOT', 'a OR b', '-a', 'a -b', 'body:x', ':', '(', ')', '((a)', '^a',
  "'; drop table posts; --", "' or 1=1 --", '\\', '%', '_', '&', '|', '!', '<->', 'a:*', 'x'.repeat(200), '🙂🙂', '…', '\u0000', '\u0301', 'ǅ',
];

for (const store of stores) {
  describe.skipIf(!store.enabled)(`search contract: ${store.name}`, () => {
    let s: StoreUnderTest;
    const announcer = new CommitAnnouncer();
    const tx = <R>(work: Parameters<typeof inTransaction<SocialDb, R>>[2]) => inTransaction(s.db, announcer, work);
    const users: Record<string, number> = {};
    const post = async (who: string, body: string) => (await tx((trx, log) => createPost(trx, log, users[who]!, body))).id;
    const find = async (query: string, limit = 20, after?: number) => (await searchPosts(s.db, s.dialect, searchTerms(query), after, limit)).map((p) => p.id);
    const people = async (prefix: string) => (await searchPeople(s.db, s.dialect, prefix, 20)).map((u) => u.username);
    let early: number;

    beforeAll(async () => {
      s = await store.open();
      const all = [...libraryMigrations, ...socialMigrations];
      // A post written before search existed: the migration must index it.
      await migrate(s.db as Kysely<unknown>, s.dialect, all.filter((m) => m.name !== '1008_search'));
      for (const [username, displayName] of [['alice', 'Alice Liddell'], ['alicia', 'Zed'], ['bob', 'Bob Alison'], ['carol', '100% Carol'], ['a_b', 'Under_score'], ['ab', 'Plain'], ['back', 'Back\\slash']] as const) {
        users[username] = (await tx((trx) => createAccount(trx, { username, passwordHash: 'h', displayName }))).id;
      }
      early = await post('alice', 'Written before the index: a lighthouse keeper');
      await migrate(s.db as Kysely<unknown>, s.dialect, all);
      await migrate(s.db as Kysely<unknown>, s.dialect, all); // idempotent
    });
    afterAll(() => s.dispose());

    it('finds people by a prefix of the username or the display name, the exact username first', async () => {
      expect(await people('ali')).toEqual(['alice', 'alicia']); // not "Bob Alison": a prefix of the whole name
      expect(await people('ALICE')).toEqual(['alice']);
      expect(await people('alice')).toEqual(['alice']);
      expect(await people('alice l')).toEqual(['alice']); // "Alice Liddell"
      expect(await people('liddell')).toEqual([]); // a prefix, not a word inside
      expect(await people('Zed')).toEqual(['alicia']);
      expect(await people('b')).toEqual(['back', 'bob']);
      expect(await people('nobody')).toEqual([]);
    });

    it('takes % _ and \\ literally', async () => {
      expect(escapeLike('100%_\\')).toBe('100\\%\\_\\\\');
      expect(await people('100%')).toEqual(['carol']);
      expect(await people('%')).toEqual([]);
      expect(await people('a_')).toEqual(['a_b']); // not "ab", which a LIKE wildcard would match
      expect(await people('_')).toEqual([]);
      expect(await people('back\\')).toEqual(['back']);
      expect(await people('\\')).toEqual([]);
      expect(await people("' or 1=1 --")).toEqual([]);
    });

    it('caps the page of people at 20 and follows display name changes', async () => {
      for (let i = 0; i < 25; i++) await tx((trx) => createAccount(trx, { username: `crowd${String(i).padStart(2, '0')}`, passwordHash: 'h', displayName: 'Crowd' }));
      const page = await searchPeople(s.db, s.dialect, 'crowd', 100);
      expect(page).toHaveLength(20);
      expect(page[0]).toMatchObject({ username: 'crowd00', displayName: 'Crowd', avatarUrl: expect.stringMatching(/^\/api\/avatars\//) });
      await tx((trx) => updateProfile(trx, users.ab!, { displayName: 'Quentin' }));
      expect(await people('quen')).toEqual(['ab']);
      expect(await people('plain')).toEqual([]);
    });

    it('serves the people prefix from an index', async () => {
      const name = s.dialect === 'sqlite' ? 'users_display_name_lower' : 'users_display_name_prefix';
      const plan = await explain(s, (db) => searchPeople(db, s.dialect, 'ali', 20));
      expect(plan).toContain(name);
    });

    it('finds posts by every word, the last one as a prefix, including those written before the index', async () => {
      const a = await post('alice', 'The quick brown fox jumps over the lazy dog');
      const b = await post('bob', 'A quick note about Tandem search');
      expect(await find('lighthouse')).toEqual([early]);
      expect(await find('quick')).toEqual(expect.arrayContaining([a, b]));
      expect(await find('quick fox')).toEqual([a]);
      expect(await find('QUICK  Fox!')).toEqual([a]);
      expect(await find('tand')).toEqual([b]); // the last word as a prefix (search as you type)
      expect(await find('tand quick')).toEqual([]); // earlier words are whole words
      expect(await find('cat')).toEqual([]);
      const [hit] = await searchPosts(s.db, s.dialect, ['tandem'], undefined, 5);
      expect(hit).toMatchObject({ id: b, body: 'A quick note about Tandem search', author: { username: 'bob', displayName: 'Bob Alison' } });
    });

    it('never fails on query syntax, and reads it as words', async () => {
      const p = await post('carol', 'Syntax "OR" NEAR parentheses (AND) body:x 100% a-b');
      for (const query of HOSTILE) await expect(find(query), query).resolves.toBeInstanceOf(Array);
      expect(await find('OR')).toEqual([p]); // the word, not the operator
      expect(await find('NEAR')).toEqual([p]);
      expect(await find('(AND)')).toEqual([p]);
      expect(await find('"or near')).toEqual([p]);
      expect(await find('body:x')).toEqual([p]);
      expect(await find('-syntax')).toEqual([p]); // not a negation
      expect(await find('🙂')).toEqual([]);
      expect(await find('"; drop table posts; --')).toEqual([]);
      expect(await find('lighthouse')).toEqual([early]); // posts is still there
    });

    it('ranks the better match first, then the newest, and pages without repeats or gaps', async () => {
      const once = await post('alice', 'kiwi and many other fruits of every colour and shape, listed at length here');
      const dense = await post('alice', 'kiwi kiwi kiwi');
      const same = [await post('bob', 'mango'), await post('bob', 'mango'), await post('bob', 'mango')];
      expect(await find('kiwi')).toEqual([dense, once]);
      expect(await find('mango')).toEqual([...same].reverse());
      const pages: number[][] = [];
      let after: number | undefined;
      for (;;) {
        const rows = await find('mango', 1, after);
        pages.push(rows.slice(0, 1));
        if (rows.length <= 1) break;
        after = rows[0];
      }
      expect(pages).toEqual([...same].reverse().map((id) => [id]));
    });

    it('follows edits and deletes (the index is kept by the store)', async () => {
      const p = await post('bob', 'papaya smoothie');
      expect(await find('papaya')).toEqual([p]);
      await tx((trx, log) => updatePost(trx, log, p, 'guava smoothie'));
      expect(await find('papaya')).toEqual([]);
      expect(await find('guava')).toEqual([p]);
      await tx((trx, log) => deletePost(trx, log, p));
      expect(await find('guava')).toEqual([]);
      expect(await find('smoothie')).toEqual([]);
    });

    it('answers an empty page after a cursor that matches no longer', async () => {
      const [x, y] = [await post('bob', 'quince'), await post('bob', 'quince')];
      expect(await find('quince', 1)).toEqual([y, x]);
      await tx((trx, log) => deletePost(trx, log, y));
      expect(await find('quince', 1, y)).toEqual([]);
    });

    it('ranks the newest MAX_CANDIDATES matches only: a word in every post stays cheap', async () => {
      const now = new Date().toISOString();
      const rows = Array.from({ length: MAX_CANDIDATES + 1 }, (_, i) => ({ author_id: users.bob!, body: i === 0 ? 'everywhere oldest' : 'everywhere', version: 1, created_at: now, updated_at: now }));
      for (let i = 0; i < rows.length; i += 250) await s.db.insertInto('posts').values(rows.slice(i, i + 250)).execute();
      const [oldest] = await find('oldest');
      expect(oldest).toBeDefined();
      const all: number[] = [];
      for (let after: number | undefined, page = await find('everywhere', 400); ; page = await find('everywhere', 400, after)) {
        all.push(...page.slice(0, 400));
        if (page.length <= 400) break;
        after = page[399];
      }
      expect(all).toHaveLength(MAX_CANDIDATES);
      expect(new Set(all).size).toBe(MAX_CANDIDATES);
      expect(all).not.toContain(oldest); // the 1001st newest
      expect(await find('everywhere oldest')).toEqual([oldest]); // a narrower query finds it
    });

    it('serves the post search from the full-text index', async () => {
      const plan = await explain(s, (db) => searchPosts(db, s.dialect, ['kiwi'], undefined, 20));
      expect(plan).toMatch(s.dialect === 'sqlite' ? /VIRTUAL TABLE INDEX/ : /posts_body_search/);
    });
  });
}

/**
 * The query plan of the first query `run` makes through the db it is given (the search itself; the
 * reaction counts of its hits are read after it), PostgreSQL without
 * sequential scans or plain index scans: the tables are tiny, so the planner would rightly prefer those; the question is
 * whether the index can serve the query at all).
 */
async function explain(s: StoreUnderTest, run: (db: Kysely<SocialDb>) => Promise<unknown>): Promise<string> {
  const nodes: RootOperationNode[] = [];
  const db = s.db.withPlugin({ transformQuery: (args) => (nodes.push(args.node), args.node), transformResult: async (args) => args.result });
  await run(db);
  const query = s.db.getExecutor().compileQuery(nodes[0]!, createQueryId());
  const rows = await s.db.transaction().execute(async (trx) => {
    if (s.dialect === 'postgres') await sql`set local enable_seqscan = off; set local enable_indexscan = off`.execute(trx);
    const prefix = s.dialect === 'postgres' ? 'explain ' : 'explain query plan ';
    return (await trx.executeQuery(CompiledQuery.raw(prefix + query.sql, [...query.parameters]))).rows;
  });
  return JSON.stringify(rows);
}
