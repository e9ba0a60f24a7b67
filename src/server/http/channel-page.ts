import type { FastifyReply, FastifyRequest } from 'fastify';
import { TandemError } from '../errors';
import type { Kysely } from 'kysely';
import { readPosition } from '../store/channel-log';
import type { Dialect, TandemTables } from '../store/database';
import { etag, sendConditional, type CachePolicy } from './caching';
import { decodeCursor, nextLink, paginate, type PageQuery } from './pagination';

/** Where list reads come from: the store, and the realtime epoch of a channel. */
export interface ChannelStore<DB extends TandemTables> {
  db: Kysely<DB>;
  dialect: Dialect;
  /** The realtime stream's epoch for the channel (changes when its history was lost). */
  epochOf(channel: string): Promise<string>;
}

export interface ChannelPageSpec<DB, T extends { id: number }, X extends object> {
  channel: string;
  /** Distinguishes lists that share a channel (a user's notifications and conversations). */
  scope: string;
  policy: CachePolicy;
  query: PageQuery;
  /** `limit + 1` rows after/before `cursor`, in page order. */
  load(db: Kysely<DB>, cursor: number | undefined, limit: number): Promise<T[]>;
  /** Fields added next to items/nextCursor, read in the same snapshot. */
  extra?(db: Kysely<DB>): Promise<X>;
  /**
   * Other channels whose changes alter the rows' representation without touching `channel`: items
   * that embed a person's name and avatar depend on the channel that announces profile edits. Their
   * positions join the ETag (read in the same snapshot as the rows), so a rename makes every cached
   * page that shows the old name stale. Tandem-Position still reports `channel` alone: that is the
   * one to subscribe to for the list's own changes.
   */
  alsoDependsOn?: readonly string[];
}

/** Kysely's types cannot see that a DB extending TandemTables has its tables; the query is the same. */
function positionIn<DB extends TandemTables>(db: Kysely<DB>, channel: string): Promise<number> {
  return readPosition(db as unknown as Kysely<TandemTables>, channel);
}

/** Reads in one transaction that sees one snapshot (REPEATABLE READ on PostgreSQL; SQLite's are). */
function readSnapshot<DB, R>(db: Kysely<DB>, dialect: Dialect, work: (trx: Kysely<DB>) => Promise<R>): Promise<R> {
  const builder = db.transaction();
  return (dialect === 'postgres' ? builder.setIsolationLevel('repeatable read') : builder).execute(work);
}

/**
 * Answers a page of a list that has a realtime channel — the REST half of the snapshot handoff.
 * The ETag is built from the channel's position, so a 304 costs one indexed lookup. A 200 reads
 * the position and the rows in one snapshot, so the Tandem-Position it reports is exactly the
 * offset of the newest change the rows include: subscribing from it misses and repeats nothing.
 */
export async function sendChannelPage<DB extends TandemTables, T extends { id: number }, X extends object = object>(
  request: FastifyRequest,
  reply: FastifyReply,
  store: ChannelStore<DB>,
  spec: ChannelPageSpec<DB, T, X>,
): Promise<{ items: T[]; nextCursor: string | null } & X> {
  const cursor = decodeCursor(spec.query.cursor);
  const limit = spec.query.limit ?? 20;
  const also = spec.alsoDependsOn ?? [];
  const tagOf = (position: number, others: readonly number[]) => etag(spec.scope, position, ...others.map((p) => `d${p}`), `l${limit}`, spec.query.cursor ?? '-');
  const headersOf = (position: number, epoch: string) => ({ 'tandem-channel': spec.channel, 'tandem-epoch': epoch, 'tandem-position': String(position) });
  // One after another: inside the snapshot they share one connection.
  const othersIn = async (db: Kysely<DB>) => {
    const positions: number[] = [];
    for (const channel of also) positions.push(await positionIn(db, channel));
    return positions;
  };
  const [position, epoch, others] = await Promise.all([positionIn(store.db, spec.channel), store.epochOf(spec.channel), othersIn(store.db)]);
  return sendConditional(request, reply, {
    etag: tagOf(position, others),
    policy: spec.policy,
    headers: headersOf(position, epoch),
    build: async () => {
      const snapshot = await readSnapshot(store.db, store.dialect, async (trx) => ({
        position: await positionIn(trx, spec.channel),
        others: await othersIn(trx),
        page: paginate(await spec.load(trx, cursor, limit), limit),
        extra: spec.extra === undefined ? ({} as X) : await spec.extra(trx),
      }));
      // A write may have landed between the conditional check and the snapshot: describe the snapshot.
      reply.header('etag', tagOf(snapshot.position, snapshot.others)).headers(headersOf(snapshot.position, epoch));
      reply.headers(nextLink(request.url, snapshot.page.nextCursor));
      return { ...snapshot.page, ...snapshot.extra };
    },
  });
}

export interface ChannelItemSpec<DB, T> {
  channel: string;
  policy: CachePolicy;
  /** The item's ETag from its version, without building it; undefined when the item does not exist (404). */
  etag(db: Kysely<DB>): Promise<string | undefined>;
  /** The representation, read in the same snapshot as the channel position. */
  load(db: Kysely<DB>): Promise<T | undefined>;
  /** Detail of the 404. */
  missing: string;
}

/**
 * Answers one resource that has a channel (a poll and its live tallies): its ETag from its version
 * (a 304 costs one lookup), and the channel's position read in the same snapshot as the body, so
 * subscribing from `Tandem-Position` misses and repeats nothing.
 */
export async function sendChannelItem<DB extends TandemTables, T>(request: FastifyRequest, reply: FastifyReply, store: ChannelStore<DB>, spec: ChannelItemSpec<DB, T>): Promise<T> {
  const headersOf = (position: number, epoch: string) => ({ 'tandem-channel': spec.channel, 'tandem-epoch': epoch, 'tandem-position': String(position) });
  // The position before the ETag: a write landing between the two reads makes the ETag newer than
  // the position (a 200 follows, read in one snapshot), never a 304 whose position skips that write.
  const [position, epoch] = await Promise.all([positionIn(store.db, spec.channel), store.epochOf(spec.channel)]);
  const tag = await spec.etag(store.db);
  if (tag === undefined) throw new TandemError('not_found', spec.missing);
  return sendConditional(request, reply, {
    etag: tag,
    policy: spec.policy,
    headers: headersOf(position, epoch),
    build: async () => {
      const snapshot = await readSnapshot(store.db, store.dialect, async (trx) => ({ position: await positionIn(trx, spec.channel), tag: await spec.etag(trx), body: await spec.load(trx) }));
      if (snapshot.body === undefined || snapshot.tag === undefined) throw new TandemError('not_found', spec.missing);
      reply.header('etag', snapshot.tag).headers(headersOf(snapshot.position, epoch));
      return snapshot.body;
    },
  });
}
