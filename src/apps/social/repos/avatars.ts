import type { Kysely, Transaction } from 'kysely';
import { type ChannelLog, nowIso, ReadById } from 'tandem/server';
import { channels } from '../channels';
import type { SocialDb } from '../db';
import { toPublicUser, type UserRow } from './users';

const bytesByHash = new ReadById((db: Kysely<SocialDb>, hash: string) => db.selectFrom('avatars').select('bytes').where('hash', '=', hash));

/** An uploaded avatar's WebP bytes; undefined for a hash nobody uploaded (or one since replaced). */
export async function readAvatar(db: Kysely<SocialDb>, hash: string): Promise<Buffer | undefined> {
  const row = await bytesByHash.first(db, hash);
  return row === undefined ? undefined : Buffer.from(row.bytes);
}

/**
 * Sets (or with null, clears) a user's avatar: stores the bytes under their hash (two people who
 * upload the same picture share one row), points users.avatar_hash at it, bumps the profile version,
 * drops the previous picture if nobody else uses it, and announces the profile on `people`, all in
 * one transaction. Returns the user as it is now; nothing is written when the avatar is unchanged.
 */
export async function setAvatar(trx: Transaction<SocialDb>, log: ChannelLog, userId: number, avatar: { hash: string; bytes: Buffer } | null): Promise<UserRow> {
  const current = await trx.selectFrom('users').selectAll().where('id', '=', userId).executeTakeFirstOrThrow();
  const hash = avatar?.hash ?? null;
  if (current.avatar_hash === hash) return current;
  if (avatar !== null) {
    // An upsert, not "do nothing": on PostgreSQL it locks the row, so a concurrent clean-up of the
    // same picture (forgetUnusedAvatar, by a user who drops it) waits for this transaction.
    await trx.insertInto('avatars').values({ hash: avatar.hash, bytes: avatar.bytes, created_at: nowIso() })
      .onConflict((oc) => oc.column('hash').doUpdateSet({ created_at: nowIso() }))
      .execute();
  }
  const user = await trx
    .updateTable('users')
    .set((eb) => ({ avatar_hash: hash, updated_at: nowIso(), version: eb('version', '+', 1) }))
    .where('id', '=', userId)
    .returningAll()
    .executeTakeFirstOrThrow();
  if (current.avatar_hash !== null) await forgetUnusedAvatar(trx, current.avatar_hash);
  await announceProfile(log, user);
  return user;
}

/** Deletes a picture no profile points at any more (its immutable URL then answers 404). */
async function forgetUnusedAvatar(trx: Transaction<SocialDb>, hash: string): Promise<void> {
  // Lock the picture's row first, in a statement of its own: if someone is uploading the same
  // picture right now (their upsert holds the row), this waits for their commit, and the DELETE
  // below, a new statement, then sees their profile pointing at it (PostgreSQL's READ COMMITTED
  // takes each statement's snapshot when it starts; a DELETE that waited on the row itself would
  // still judge NOT EXISTS by its older snapshot and remove a picture in use).
  await trx.updateTable('avatars').set((eb) => ({ created_at: eb.ref('created_at') })).where('hash', '=', hash).execute();
  await trx.deleteFrom('avatars').where('hash', '=', hash)
    .where(({ not, exists, selectFrom }) => not(exists(selectFrom('users').select('id').where('avatar_hash', '=', hash))))
    .execute();
}

/**
 * Tells every open page that a profile changed (`profile.updated` on `people`): pages redraw the
 * name and picture, and every list that embeds people (their ETags include the `people` position)
 * is stale from this moment for caches too.
 */
export async function announceProfile(log: ChannelLog, user: UserRow): Promise<void> {
  await log.append(channels.people, 'profile.updated', toPublicUser(user));
}
