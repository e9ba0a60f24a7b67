/**
 * How search scales on each store: 5,000 people and 50,000 posts (random words from a vocabulary
 * of 5,000, so a word is in ~0.1-10% of the posts), then the median time of people prefixes and of
 * post searches with a rare word, a common word, two words, and a prefix; and which index each
 * store's plan uses (no planner settings changed).
 *
 *   flock /tmp/tandem-bench.lock npx tsx bench/search/run.ts [--posts=50000]
 *
 * PostgreSQL at TANDEM_TEST_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/test), in a
 * schema of its own that is dropped afterwards; SQLite in memory.
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { sql, type Kysely } from 'kysely';
import type { SocialDb } from '../../src/apps/social/db';
import { socialMigrations } from '../../src/apps/social/migrations';
import { searchPeople, searchPosts } from '../../src/apps/social/repos/search';
import { searchTerms } from '../../src/apps/social/search-terms';
import { openPostgres, openSqlite, type Dialect } from '../../src/server/store/database';
import { libraryMigrations } from '../../src/server/store/library-migrations';
import { migrate } from '../../src/server/store/migrate';

const POSTS = Number(process.argv.find((a) => a.startsWith('--posts='))?.slice(8) ?? 50_000);
const PEOPLE = 5_000;
const URL = process.env.TANDEM_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** A deterministic pseudo-random sequence (the two stores get the same data). */
function random(seed: number): () => number {
  let s = seed;
  return () => ((s = (s * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31);
}

const VOCABULARY = Array.from({ length: 5_000 }, (_, i) => `w${i.toString(36)}x${(i * 7919 % 5000).toString(36)}`);

async function fill(db: Kysely<SocialDb>): Promise<void> {
  const next = random(42);
  const now = new Date().toISOString();
  const people = Array.from({ length: PEOPLE }, (_, i) => ({
    username: `user${i}`, password_hash: 'h', bio: '', avatar_hash: null, display_name: `${['Ann', 'Bob', 'Cleo', 'Dan', 'Eve'][i % 5]} ${VOCABULARY[i]}`, version: 1, created_at: now, updated_at: now,
  }));
  for (let i = 0; i < people.length; i += 500) await db.insertInto('users').values(people.slice(i, i + 500)).execute();
  // Zipf-ish: low word numbers are common, high ones rare.
  const word = () => VOCABULARY[Math.floor(VOCABULARY.length * next() ** 3)]!;
  for (let i = 0; i < POSTS; i += 500) {
    const rows = Array.from({ length: Math.min(500, POSTS - i) }, () => ({
      author_id: 1 + Math.floor(next() * PEOPLE), body: Array.from({ length: 8 + Math.floor(next() * 40) }, word).join(' '), version: 1, created_at: now, updated_at: now,
    }));
    await db.insertInto('posts').values(rows).execute();
  }
}

async function median(run: () => Promise<unknown>, times = 21): Promise<number> {
  const samples: number[] = [];
  for (let i = 0; i < times; i++) {
    const start = performance.now();
    await run();
    samples.push(performance.now() - start);
  }
  return samples.sort((a, b) => a - b)[Math.floor(times / 2)]!;
}

async function measure(name: string, db: Kysely<SocialDb>, dialect: Dialect): Promise<void> {
  const t0 = performance.now();
  await fill(db);
  if (dialect === 'postgres') await sql`analyze`.execute(db);
  console.log(`\n${name}: ${PEOPLE} people, ${POSTS} posts, filled in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  const count = async (q: string) => (await searchPosts(db, dialect, searchTerms(q), undefined, 10_000_000)).length;
  const cases: Array<[string, () => Promise<unknown>, string]> = [
    ['people "use" (many usernames)', () => searchPeople(db, dialect, 'use', 20), ''],
    ['people "user4999" (exact)', () => searchPeople(db, dialect, 'user4999', 20), ''],
    ['people "cleo w1" (display name)', () => searchPeople(db, dialect, 'cleo w1', 20), ''],
    [`posts rare "${VOCABULARY[4000]}"`, () => searchPosts(db, dialect, searchTerms(VOCABULARY[4000]!), undefined, 20), `${await count(VOCABULARY[4000]!)} hits`],
    [`posts common "${VOCABULARY[0]}"`, () => searchPosts(db, dialect, searchTerms(VOCABULARY[0]!), undefined, 20), `${await count(VOCABULARY[0]!)} hits`],
    [`posts two words`, () => searchPosts(db, dialect, searchTerms(`${VOCABULARY[0]} ${VOCABULARY[100]}`), undefined, 20), `${await count(`${VOCABULARY[0]} ${VOCABULARY[100]}`)} hits`],
    ['posts prefix "w1"', () => searchPosts(db, dialect, searchTerms('w1'), undefined, 20), `${await count('w1')} hits`],
  ];
  for (const [label, run, note] of cases) console.log(`  ${label.padEnd(34)} ${(await median(run)).toFixed(2).padStart(8)} ms  ${note}`);
}

async function main(): Promise<void> {
  const lite = openSqlite<SocialDb>({ sqlitePath: ':memory:' });
  try {
    await migrate(lite.db as Kysely<unknown>, lite.dialect, [...libraryMigrations, ...socialMigrations]);
    await measure('SQLite (FTS5)', lite.db, lite.dialect);
  } finally {
    await lite.db.destroy();
  }
  const schema = `tandem_bench_${randomBytes(6).toString('hex')}`;
  const admin = openPostgres<unknown>({ url: URL, maxConnections: 1 });
  await sql.raw(`create schema ${schema}`).execute(admin.db);
  const pg = openPostgres<SocialDb>({ url: URL, schema });
  try {
    await migrate(pg.db as Kysely<unknown>, pg.dialect, [...libraryMigrations, ...socialMigrations]);
    await measure('PostgreSQL (GIN, to_tsvector simple)', pg.db, pg.dialect);
    const plan = await sql<{ 'QUERY PLAN': string }>`explain select id from posts where to_tsvector('simple', body) @@ to_tsquery('simple', ${`'${VOCABULARY[4000]}'`})`.execute(pg.db);
    console.log(`  plan of a rare word: ${plan.rows.map((r) => r['QUERY PLAN'].trim()).join(' / ')}`);
  } finally {
    await pg.db.destroy();
    await sql.raw(`drop schema ${schema} cascade`).execute(admin.db);
    await admin.db.destroy();
  }
}

await main();
