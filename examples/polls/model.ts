import type { Generated, Kysely } from 'kysely';
import { defineErrors, nowIso, setting, withSerialId, type PortableMigration, type TandemTables } from 'tandem/server';
import { Type, type Static } from 'typebox';

/** The polls app's tables (the library's come with them: accounts, sessions, channel positions…). */
export interface PollsDb extends TandemTables {
  polls: { id: Generated<number>; author_id: number; question: string; closed: number; version: number; created_at: string; updated_at: string };
  poll_options: { id: Generated<number>; poll_id: number; position: number; label: string };
  votes: { poll_id: number; user_id: number; option_id: number; voted_at: string };
}

export const pollMigrations: PortableMigration[] = [
  {
    name: '1001_polls',
    async up(db, dialect) {
      await withSerialId(db.schema.createTable('polls'), dialect)
        .addColumn('author_id', 'integer', (c) => c.notNull().references('users.id'))
        .addColumn('question', 'text', (c) => c.notNull())
        .addColumn('closed', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('version', 'integer', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .execute();
      await withSerialId(db.schema.createTable('poll_options'), dialect)
        .addColumn('poll_id', 'integer', (c) => c.notNull().references('polls.id').onDelete('cascade'))
        .addColumn('position', 'integer', (c) => c.notNull())
        .addColumn('label', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('votes')
        .addColumn('poll_id', 'integer', (c) => c.notNull().references('polls.id').onDelete('cascade'))
        .addColumn('user_id', 'integer', (c) => c.notNull().references('users.id'))
        .addColumn('option_id', 'integer', (c) => c.notNull().references('poll_options.id'))
        .addColumn('voted_at', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('votes_pk', ['poll_id', 'user_id'])
        .execute();
      await db.schema.createIndex('votes_option').on('votes').column('option_id').execute();
    },
  },
];

/** The app's own settings, validated at start with the library's. */
export const pollSettings = {
  tallyIntervalMs: setting.integer('POLLS_TALLY_INTERVAL_MS', 100, { min: 10, max: 10_000 }, 'live tallies go out at most this often per poll, ms'),
};

/** The app's own error codes, answered and documented like the library's. */
export const pollErrors = defineErrors({
  poll_closed: { status: 409, title: 'The poll is closed; it takes no more votes' },
  unknown_option: { status: 422, title: 'The poll has no such option' },
});

const Id = Type.Integer({ minimum: 1, maximum: 2_147_483_647 });
export const PollParams = Type.Object({ id: Id });
export const NewPoll = Type.Object(
  { question: Type.String({ minLength: 1, maxLength: 200, pattern: '\\S' }), options: Type.Array(Type.String({ minLength: 1, maxLength: 80, pattern: '\\S' }), { minItems: 2, maxItems: 10 }) },
  { additionalProperties: false },
);
export const PollChange = Type.Object({ question: Type.Optional(NewPoll.properties.question), closed: Type.Optional(Type.Boolean()) }, { additionalProperties: false, minProperties: 1 });
export const VoteBody = Type.Object({ optionId: Id }, { additionalProperties: false });

export const Tally = Type.Object(
  { pollId: Id, options: Type.Array(Type.Object({ id: Id, votes: Type.Integer({ minimum: 0 }) })), totalVotes: Type.Integer({ minimum: 0 }), version: Type.Integer() },
  { title: 'Tally', description: 'The counts of a poll at one moment (a whole state, so the latest one wins)' },
);
export type Tally = Static<typeof Tally>;

export const Poll = Type.Object(
  {
    id: Id,
    author: Type.Object({ id: Id, username: Type.String() }),
    question: Type.String(),
    options: Type.Array(Type.Object({ id: Id, label: Type.String(), votes: Type.Integer({ minimum: 0 }) })),
    totalVotes: Type.Integer({ minimum: 0 }),
    closed: Type.Boolean(),
    createdAt: Type.String({ format: 'date-time' }),
    updatedAt: Type.String({ format: 'date-time' }),
    version: Type.Integer({ description: 'Changes with every edit and every vote (the ETag is built from it)' }),
  },
  { title: 'Poll' },
);
export type Poll = Static<typeof Poll>;

export const MyVote = Type.Object({ pollId: Id, optionId: Type.Union([Id, Type.Null()]) }, { title: 'MyVote' });

/** A poll with its counts, or undefined. */
export async function readPoll(db: Kysely<PollsDb>, id: number): Promise<Poll | undefined> {
  const row = await db
    .selectFrom('polls')
    .innerJoin('users', 'users.id', 'polls.author_id')
    .select(['polls.id', 'polls.author_id', 'users.username', 'polls.question', 'polls.closed', 'polls.created_at', 'polls.updated_at', 'polls.version'])
    .where('polls.id', '=', id)
    .executeTakeFirst();
  if (row === undefined) return undefined;
  const tally = await readTally(db, id, row.version);
  const labels = await db.selectFrom('poll_options').select(['id', 'label']).where('poll_id', '=', id).orderBy('position').execute();
  const votes = new Map(tally.options.map((o) => [o.id, o.votes]));
  return {
    id: row.id,
    author: { id: row.author_id, username: row.username },
    question: row.question,
    options: labels.map((o) => ({ id: o.id, label: o.label, votes: votes.get(o.id) ?? 0 })),
    totalVotes: tally.totalVotes,
    closed: row.closed === 1,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    version: row.version,
  };
}

/** The counts of every option of a poll. */
export async function readTally(db: Kysely<PollsDb>, pollId: number, version?: number): Promise<Tally> {
  const rows = await db
    .selectFrom('poll_options')
    .leftJoin('votes', 'votes.option_id', 'poll_options.id')
    .select((eb) => ['poll_options.id', eb.fn.count<number>('votes.user_id').as('votes')])
    .where('poll_options.poll_id', '=', pollId)
    .groupBy(['poll_options.id', 'poll_options.position'])
    .orderBy('poll_options.position')
    .execute();
  const options = rows.map((r) => ({ id: r.id, votes: Number(r.votes) }));
  const current = version ?? (await db.selectFrom('polls').select('version').where('id', '=', pollId).executeTakeFirstOrThrow()).version;
  return { pollId, options, totalVotes: options.reduce((sum, o) => sum + o.votes, 0), version: current };
}

export async function pollVersion(db: Kysely<PollsDb>, id: number): Promise<{ version: number; authorId: number; closed: boolean } | undefined> {
  const row = await db.selectFrom('polls').select(['version', 'author_id', 'closed']).where('id', '=', id).executeTakeFirst();
  return row === undefined ? undefined : { version: row.version, authorId: row.author_id, closed: row.closed === 1 };
}

export async function insertPoll(db: Kysely<PollsDb>, authorId: number, input: Static<typeof NewPoll>): Promise<number> {
  const now = nowIso();
  const { id } = await db.insertInto('polls').values({ author_id: authorId, question: input.question, closed: 0, version: 1, created_at: now, updated_at: now }).returning('id').executeTakeFirstOrThrow();
  await db.insertInto('poll_options').values(input.options.map((label, position) => ({ poll_id: id, position, label }))).execute();
  return id;
}
