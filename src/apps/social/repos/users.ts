import type { Kysely, Selectable, Transaction } from 'kysely';
import { normalizeUsername, nowIso, ReadById, TandemError } from 'tandem/server';
import type { SocialDb, SocialTables } from '../db';
import type { PublicUser, UserRef } from '../schemas';

/** An account with the social app's profile (the library's `users` plus `bio`). */
export type UserRow = Selectable<SocialTables['users']>;

export function toPublicUser(row: UserRow): PublicUser {
  return { id: row.id, username: row.username, displayName: row.display_name, bio: row.bio, avatarUrl: avatarUrl(row), createdAt: row.created_at, version: row.version };
}

/** The columns a UserRef is made of, as selected next to another table's (`users` joined). */
export const USER_REF_COLUMNS = ['users.username', 'users.display_name', 'users.avatar_hash'] as const;

/** A UserRef from a user's id and the USER_REF_COLUMNS of a joined row. */
export function toUserRef(id: number, row: { username: string; display_name: string; avatar_hash: string | null }): UserRef {
  return { id, username: row.username, displayName: row.display_name, avatarUrl: avatarUrl({ ...row, id }) }; // `id` last: a joined row has an `id` of its own (a post's)
}

/**
 * Where a user's avatar is: the uploaded picture under its content hash (immutable), or the
 * generated initials (also immutable: the URL changes with the name).
 */
export function avatarUrl(user: { id: number; username: string; display_name: string; avatar_hash: string | null }): string {
  if (user.avatar_hash !== null) return `/api/avatars/${user.avatar_hash}.webp`;
  return `/api/avatars/initials/${encodeURIComponent(initialsOf(user.display_name || user.username))}-${initialsHue(user.id)}.svg`;
}

/** The generated avatar's hue: ids a step apart land ~137° apart (the golden angle), so neighbours never look alike. */
function initialsHue(id: number): number {
  return (id * 137) % 360;
}

/** What an initial can never be: controls, format characters (bidi overrides, zero-width), marks, private use, unassigned, lone surrogates. */
const NOT_AN_INITIAL = /[\p{Cc}\p{Cf}\p{Co}\p{Cn}\p{Cs}\p{M}]/gu;

/**
 * "Alice Liddell" → "AL"; "bob" → "B". Always a name the initials route serves (parseInitialsFile):
 * characters that cannot be an initial are skipped, and a letter whose upper case is longer than
 * one character ("ß" → "SS") stays as it is.
 */
function initialsOf(name: string): string {
  const words = name.trim().split(/\s+/u).map((w) => w.replace(NOT_AN_INITIAL, '')).filter((w) => w !== '');
  const letters = words.length > 1 ? [words[0]!, words[words.length - 1]!] : words;
  return letters.map((w) => {
    const first = [...w][0]!;
    const upper = first.toUpperCase();
    return [...upper].length === 1 ? upper : first;
  }).join('') || '?';
}

export function findUserByUsername(db: Kysely<SocialDb>, username: string): Promise<UserRow | undefined> {
  return db.selectFrom('users').selectAll().where('username', '=', normalizeUsername(username)).executeTakeFirst();
}

// Compiled once: GET /api/me reads these on every request.
const userById = new ReadById((db: Kysely<SocialDb>, id: number) => db.selectFrom('users').selectAll().where('id', '=', id));
const versionById = new ReadById((db: Kysely<SocialDb>, id: number) => db.selectFrom('users').select('version').where('id', '=', id));

export function findUserById(db: Kysely<SocialDb>, id: number): Promise<UserRow | undefined> {
  return userById.first(db, id);
}

/** The version alone: enough to answer a conditional request. */
export async function userVersionByUsername(db: Kysely<SocialDb>, username: string): Promise<{ id: number; version: number } | undefined> {
  return db.selectFrom('users').select(['id', 'version']).where('username', '=', normalizeUsername(username)).executeTakeFirst();
}

export async function userVersionById(db: Kysely<SocialDb>, id: number): Promise<number | undefined> {
  return (await versionById.first(db, id))?.version;
}

export async function updateProfile(
  trx: Transaction<SocialDb>,
  id: number,
  patch: { displayName?: string | undefined; bio?: string | undefined },
): Promise<UserRow> {
  const changes: { display_name?: string; bio?: string } = {};
  if (patch.displayName !== undefined) changes.display_name = patch.displayName;
  if (patch.bio !== undefined) changes.bio = patch.bio;
  const current = await trx.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
  const unchanged = Object.entries(changes).every(([k, v]) => current[k as keyof typeof changes] === v);
  if (unchanged) return current;
  return trx
    .updateTable('users')
    .set((eb) => ({ ...changes, updated_at: nowIso(), version: eb('version', '+', 1) }))
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirstOrThrow();
}

/** Resolves usernames to ids; throws validation_failed naming each unknown one. */
export async function resolveUsernames(db: Kysely<SocialDb>, usernames: string[], field: string): Promise<Map<string, number>> {
  const wanted = [...new Set(usernames.map(normalizeUsername))];
  const rows = wanted.length === 0 ? [] : await db.selectFrom('users').select(['id', 'username']).where('username', 'in', wanted).execute();
  const found = new Map(rows.map((r) => [r.username, r.id]));
  const missing = usernames.map((u, i) => ({ u: normalizeUsername(u), i })).filter(({ u }) => !found.has(u));
  if (missing.length > 0) {
    throw new TandemError('validation_failed', 'Unknown users', {
      errors: missing.map(({ u, i }) => ({ field: `${field}.${i}`, message: `no user named ${u}` })),
    });
  }
  return found;
}
