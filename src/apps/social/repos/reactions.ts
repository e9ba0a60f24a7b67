import type { Kysely, Transaction } from 'kysely';
import { nowIso, type Dialect } from 'tandem/server';
import type { SocialDb } from '../db';
import { isReactionName, REACTION_NAMES, type ReactionCounts, type ReactionName, type ReactionTarget } from '../reactions';

/**
 * Reactions on posts and comments: one row per person, target and reaction name. Counts are read
 * grouped for a whole page at once (one query, whatever the page's size), never kept in a column:
 * a burst of reactions then writes rows that do not contend, and the counts cannot drift.
 */

/** Counts by target id for these targets, in one grouped query; targets nobody reacted to are absent. */
export async function reactionCounts(db: Kysely<SocialDb>, target: ReactionTarget, ids: readonly number[]): Promise<Map<number, ReactionCounts>> {
  const counts = new Map<number, ReactionCounts>();
  if (ids.length === 0) return counts;
  const rows = await db
    .selectFrom('reactions')
    .select(['target_id', 'reaction', (eb) => eb.fn.countAll<number | string>().as('n')])
    .where('target', '=', target)
    .where('target_id', 'in', [...new Set(ids)])
    .groupBy(['target_id', 'reaction'])
    .execute();
  for (const row of rows) {
    if (!isReactionName(row.reaction)) continue;
    const entry = counts.get(row.target_id) ?? {};
    entry[row.reaction] = Number(row.n);
    counts.set(row.target_id, entry);
  }
  // Always in REACTIONS order, so equal counts serialize equally.
  for (const [id, entry] of counts) counts.set(id, ordered(entry));
  return counts;
}

function ordered(counts: ReactionCounts): ReactionCounts {
  const result: ReactionCounts = {};
  for (const name of REACTION_NAMES) if (counts[name] !== undefined) result[name] = counts[name];
  return result;
}

/** The items with their `reactions` filled in (one grouped query for all of them). */
export async function withReactions<T extends { id: number; reactions: ReactionCounts }>(db: Kysely<SocialDb>, target: ReactionTarget, items: T[]): Promise<T[]> {
  if (items.length === 0) return items;
  const counts = await reactionCounts(db, target, items.map((item) => item.id));
  for (const item of items) item.reactions = counts.get(item.id) ?? {};
  return items;
}

/** One target's counts. */
export async function countsOf(db: Kysely<SocialDb>, target: ReactionTarget, id: number): Promise<ReactionCounts> {
  return (await reactionCounts(db, target, [id])).get(id) ?? {};
}

/** One target's counts and which of them this person left, in one grouped query (a change's answer). */
export async function stateOf(db: Kysely<SocialDb>, target: ReactionTarget, id: number, userId: number): Promise<{ reactions: ReactionCounts; mine: ReactionName[] }> {
  const rows = await db
    .selectFrom('reactions')
    .select((eb) => [
      'reaction',
      eb.fn.countAll<number | string>().as('n'),
      eb.fn.sum<number | string>(eb.case().when('user_id', '=', userId).then(1).else(0).end()).as('mine'),
    ])
    .where('target', '=', target)
    .where('target_id', '=', id)
    .groupBy('reaction')
    .execute();
  const reactions: ReactionCounts = {};
  const mine: ReactionName[] = [];
  for (const row of rows) {
    if (!isReactionName(row.reaction)) continue;
    reactions[row.reaction] = Number(row.n);
    if (Number(row.mine) > 0) mine.push(row.reaction);
  }
  return { reactions: ordered(reactions), mine: REACTION_NAMES.filter((name) => mine.includes(name)) };
}

/** Which reactions this person left on these targets (targets without any are absent). */
export async function myReactions(db: Kysely<SocialDb>, userId: number, target: ReactionTarget, ids: readonly number[]): Promise<Map<number, ReactionName[]>> {
  const mine = new Map<number, ReactionName[]>();
  if (ids.length === 0) return mine;
  const rows = await db
    .selectFrom('reactions')
    .select(['target_id', 'reaction'])
    .where('user_id', '=', userId)
    .where('target', '=', target)
    .where('target_id', 'in', [...new Set(ids)])
    .execute();
  for (const row of rows) {
    if (!isReactionName(row.reaction)) continue;
    mine.set(row.target_id, [...(mine.get(row.target_id) ?? []), row.reaction]);
  }
  for (const [id, names] of mine) mine.set(id, REACTION_NAMES.filter((name) => names.includes(name)));
  return mine;
}

/** Adds the reaction; false when the person had already left it (nothing changed). */
export async function addReaction(trx: Transaction<SocialDb>, target: ReactionTarget, id: number, userId: number, reaction: ReactionName): Promise<boolean> {
  const inserted = await trx
    .insertInto('reactions')
    .values({ target, target_id: id, user_id: userId, reaction, created_at: nowIso() })
    .onConflict((oc) => oc.columns(['target', 'target_id', 'user_id', 'reaction']).doNothing())
    .returning('user_id')
    .executeTakeFirst();
  return inserted !== undefined;
}

/** Removes the reaction; false when there was none (nothing changed). */
export async function removeReaction(trx: Transaction<SocialDb>, target: ReactionTarget, id: number, userId: number, reaction: ReactionName): Promise<boolean> {
  const removed = await trx
    .deleteFrom('reactions')
    .where('target', '=', target)
    .where('target_id', '=', id)
    .where('user_id', '=', userId)
    .where('reaction', '=', reaction)
    .executeTakeFirst();
  return Number(removed.numDeletedRows) > 0;
}

/**
 * Records that the target's author was told about this person's reactions; true the first time
 * only, so the author hears of a person once per post or comment however often they toggle.
 */
export async function firstNotice(trx: Transaction<SocialDb>, target: ReactionTarget, id: number, userId: number): Promise<boolean> {
  const inserted = await trx
    .insertInto('reaction_notices')
    .values({ target, target_id: id, user_id: userId })
    .onConflict((oc) => oc.columns(['target', 'target_id', 'user_id']).doNothing())
    .returning('user_id')
    .executeTakeFirst();
  return inserted !== undefined;
}

/**
 * Deletes the reactions (and notices) of a target that goes: a post's own and its comments' (call
 * before the post's row goes, while its comments can still be found), or one comment's.
 */
export async function forgetReactions(trx: Transaction<SocialDb>, target: ReactionTarget, id: number): Promise<void> {
  for (const table of ['reactions', 'reaction_notices'] as const) {
    await trx.deleteFrom(table).where('target', '=', target).where('target_id', '=', id).execute();
    if (target === 'post') {
      await trx
        .deleteFrom(table)
        .where('target', '=', 'comment')
        .where('target_id', 'in', (eb) => eb.selectFrom('comments').select('id').where('post_id', '=', id))
        .execute();
    }
  }
}

export interface Budget {
  /** Largest burst. */
  capacity: number;
  /** Tokens added back per millisecond. */
  refillPerMs: number;
}

/**
 * Spends one of the person's reaction tokens inside the change's transaction: false (and nothing
 * written) when the bucket is empty, with the seconds until a token is back. Kept in the store, so a
 * flood spread over the nodes of a cluster spends one bucket; on PostgreSQL the row is locked, so
 * concurrent requests of one person queue instead of both spending the last token.
 */
export async function spendReactionToken(
  trx: Transaction<SocialDb>,
  dialect: Dialect,
  userId: number,
  nowMs: number,
  budget: Budget,
): Promise<{ allowed: true } | { allowed: false; retryAfterSeconds: number }> {
  const read = () => {
    const query = trx.selectFrom('reaction_budgets').select(['tokens', 'updated_ms']).where('user_id', '=', userId);
    return (dialect === 'postgres' ? query.forUpdate() : query).executeTakeFirst();
  };
  let row = await read();
  if (row === undefined) {
    // The person's first change: a full bucket less this token (unless a concurrent first change made the row).
    const made = await trx
      .insertInto('reaction_budgets')
      .values({ user_id: userId, tokens: budget.capacity - 1, updated_ms: nowMs })
      .onConflict((oc) => oc.column('user_id').doNothing())
      .returning('user_id')
      .executeTakeFirst();
    if (made !== undefined) return { allowed: true };
    row = await read();
    if (row === undefined) throw new Error('reaction budget row vanished');
  }
  const tokens = Math.min(budget.capacity, Number(row.tokens) + Math.max(0, nowMs - Number(row.updated_ms)) * budget.refillPerMs);
  if (tokens < 1) return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil((1 - tokens) / budget.refillPerMs / 1000)) };
  await trx.updateTable('reaction_budgets').set({ tokens: tokens - 1, updated_ms: nowMs }).where('user_id', '=', userId).execute();
  return { allowed: true };
}
