import type { Kysely, Selectable } from 'kysely';
import { Type, type Static } from 'typebox';
import { TandemError } from '../errors';
import { nowIso, type TandemTables } from '../store/database';

/** An account as the library stores it (the `users` table; apps may add columns). */
export type AccountRow = Selectable<TandemTables['users']>;

export const Username = Type.String({ pattern: '^[A-Za-z0-9_]{3,24}$', description: '3-24 letters, digits or _; case-insensitive' });
export const Password = Type.String({ minLength: 8, maxLength: 128 });
export const DisplayName = Type.String({ minLength: 1, maxLength: 50, pattern: '\\S' });

/** The user representation token answers carry by default (an app may answer its own, see AccountOptions.profile). */
export const AccountSchema = Type.Object(
  { id: Type.Integer({ minimum: 1 }), username: Type.String(), displayName: Type.String(), createdAt: Type.String({ format: 'date-time' }), version: Type.Integer() },
  { title: 'Account' },
);
export type Account = Static<typeof AccountSchema>;

export function toAccount(row: AccountRow): Account {
  return { id: row.id, username: row.username, displayName: row.display_name, createdAt: row.created_at, version: row.version };
}

/** Usernames are case-insensitive: stored and looked up in lower case. */
export function normalizeUsername(username: string): string {
  return username.toLowerCase();
}

/** The library's view of an app's database (whose tables include the library's). */
function library<DB extends TandemTables>(db: Kysely<DB>): Kysely<TandemTables> {
  return db as unknown as Kysely<TandemTables>;
}

export function findAccountByUsername<DB extends TandemTables>(db: Kysely<DB>, username: string): Promise<AccountRow | undefined> {
  return library(db).selectFrom('users').selectAll().where('username', '=', normalizeUsername(username)).executeTakeFirst();
}

export function findAccountById<DB extends TandemTables>(db: Kysely<DB>, id: number): Promise<AccountRow | undefined> {
  return library(db).selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();
}

export interface NewAccount {
  username: string;
  displayName: string;
  /** From hashPassword, called before the transaction: argon2id takes tens of ms, too long to hold a write lock. */
  passwordHash: string;
}

/**
 * Creates an account in the given transaction (so an app can create its own rows with it).
 * Throws `username_taken` (409) when the name is taken in any case.
 */
export async function createAccount<DB extends TandemTables>(db: Kysely<DB>, input: NewAccount): Promise<AccountRow> {
  const trx = library(db);
  const username = normalizeUsername(input.username);
  const existing = await trx.selectFrom('users').select('id').where('username', '=', username).executeTakeFirst();
  if (existing !== undefined) throw new TandemError('username_taken', `The username ${username} is taken`);
  const now = nowIso();
  try {
    return await trx
      .insertInto('users')
      .values({ username, password_hash: input.passwordHash, display_name: input.displayName, version: 1, created_at: now, updated_at: now })
      .returningAll()
      .executeTakeFirstOrThrow();
  } catch (error) {
    // Two concurrent registrations on PostgreSQL both pass the check above; the index decides.
    if (isUniqueViolation(error)) throw new TandemError('username_taken', `The username ${username} is taken`);
    throw error;
  }
}

function isUniqueViolation(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === 'SQLITE_CONSTRAINT_UNIQUE' || code === '23505';
}
