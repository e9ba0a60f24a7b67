import type { Kysely } from 'kysely';

/**
 * Reactions on posts and comments (1005_reactions). `target` + `target_id` name what was reacted
 * to (a post or a comment: no foreign key can name both, so deleting a post or comment deletes its
 * reactions explicitly, repos/reactions.ts forgetReactions). The primary key makes a reaction
 * idempotent (one per person, target and name) and, leading with the target, serves the grouped
 * counts of a page; a second index finds one person's reactions for "which did I leave".
 * `reaction_notices` remembers whom the author was told about (once per person and target);
 * `reaction_budgets` is each person's token bucket for reaction changes, kept in the store so that
 * every node of a cluster spends the same one, in the same transaction as the change.
 */
export async function addReactions(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('reactions')
    .addColumn('target', 'text', (c) => c.notNull())
    .addColumn('target_id', 'integer', (c) => c.notNull())
    .addColumn('user_id', 'integer', (c) => c.notNull().references('users.id'))
    .addColumn('reaction', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('reactions_pk', ['target', 'target_id', 'user_id', 'reaction'])
    .execute();
  await db.schema.createIndex('reactions_user').on('reactions').columns(['user_id', 'target', 'target_id']).execute();
  await db.schema
    .createTable('reaction_notices')
    .addColumn('target', 'text', (c) => c.notNull())
    .addColumn('target_id', 'integer', (c) => c.notNull())
    .addColumn('user_id', 'integer', (c) => c.notNull().references('users.id'))
    .addPrimaryKeyConstraint('reaction_notices_pk', ['target', 'target_id', 'user_id'])
    .execute();
  await db.schema
    .createTable('reaction_budgets')
    .addColumn('user_id', 'integer', (c) => c.primaryKey().references('users.id'))
    .addColumn('tokens', 'double precision', (c) => c.notNull())
    .addColumn('updated_ms', 'double precision', (c) => c.notNull())
    .execute();
}
