import type { Kysely, Transaction } from 'kysely';
import type { TandemTables } from './database';
import { ReadById } from './read-by-id';

/**
 * A change to a channel, numbered inside the database transaction that made it.
 * The offset is the channel's position after the change: REST reads report the same
 * position (and build list ETags from it), so REST and realtime share one version space.
 */
export interface ChannelEvent {
  channel: string;
  offset: number;
  event: string;
  data: unknown;
}

export type CommitListener = (events: readonly ChannelEvent[]) => void;

/** Collects the events of one transaction; they are announced only after it commits. */
export class ChannelLog {
  readonly #trx: Transaction<TandemTables>;
  readonly #events: ChannelEvent[] = [];
  readonly #outbox: boolean;

  /** `outbox`: also write each event to channel_events, in the same transaction (a cluster's). */
  constructor(trx: Transaction<TandemTables>, outbox = false) {
    this.#trx = trx;
    this.#outbox = outbox;
  }

  /** Advances the channel's position by one and records the event for after-commit delivery. */
  async append(channel: string, event: string, data: unknown): Promise<ChannelEvent> {
    const row = await this.#trx
      .insertInto('channel_positions')
      .values({ channel, last_offset: 1 })
      .onConflict((oc) => oc.column('channel').doUpdateSet((eb) => ({ last_offset: eb('channel_positions.last_offset', '+', 1) })))
      .returning('last_offset')
      .executeTakeFirstOrThrow();
    const entry = { channel, offset: Number(row.last_offset), event, data };
    if (this.#outbox) {
      await this.#trx.insertInto('channel_events').values({ channel, offset: entry.offset, event, data: JSON.stringify(data ?? null), created_at: new Date().toISOString() }).execute();
    }
    this.#events.push(entry);
    return entry;
  }

  get events(): readonly ChannelEvent[] {
    return this.#events;
  }
}

export interface CommitAnnouncerOptions {
  /** Called with whatever a listener throws. Default: a process warning (stderr). */
  onListenerError?: (error: unknown) => void;
  /**
   * Write every event to the channel_events outbox in its transaction (a cluster: any node can
   * then deliver what a node that died after its commit never published). Default false.
   */
  outbox?: boolean;
}

/** Fans committed events out to listeners (the realtime hub subscribes here). */
export class CommitAnnouncer {
  readonly #listeners = new Set<CommitListener>();
  readonly #onListenerError: (error: unknown) => void;
  /** Whether transactions write their events to the outbox too. */
  readonly outbox: boolean;

  constructor(options: CommitAnnouncerOptions = {}) {
    this.outbox = options.outbox ?? false;
    this.#onListenerError = options.onListenerError ?? ((error) =>
      process.emitWarning(`A commit listener threw: ${error instanceof Error ? error.message : String(error)}`, {
        type: 'CommitListenerError',
        ...(error instanceof Error && error.stack !== undefined ? { detail: error.stack } : {}),
      }));
  }

  /** Adds a listener; returns a function that removes it. */
  on(listener: CommitListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /**
   * Hands the events to every listener. The transaction has already committed, so a listener
   * that throws must neither turn the write into a 500 (inviting a duplicating retry) nor
   * keep the events from the listeners after it.
   */
  announce(events: readonly ChannelEvent[]): void {
    if (events.length === 0) return;
    for (const listener of this.#listeners) {
      try {
        listener(events);
      } catch (error) {
        this.#onListenerError(error);
      }
    }
  }
}

/**
 * Runs `work` in one transaction with a ChannelLog; after the commit, announces the events.
 * A failure rolls everything back (rows and positions) and announces nothing.
 */
export async function inTransaction<DB extends TandemTables, R>(
  db: Kysely<DB>,
  announcer: CommitAnnouncer,
  work: (trx: Transaction<DB>, log: ChannelLog) => Promise<R>,
): Promise<R> {
  let log: ChannelLog | undefined;
  const result = await db.transaction().execute(async (trx) => {
    log = new ChannelLog(trx as unknown as Transaction<TandemTables>, announcer.outbox);
    return work(trx, log);
  });
  if (log !== undefined) announcer.announce(log.events);
  return result;
}

/** The channel's current position (0 when nothing was ever published on it). */
// Compiled once: every list answer (and every 304 a poller gets) reads its channel's position.
const positionOf = new ReadById((db: Kysely<TandemTables>, channel: string) => db.selectFrom('channel_positions').select('last_offset').where('channel', '=', channel));

export async function readPosition(db: Kysely<TandemTables>, channel: string): Promise<number> {
  const row = await positionOf.first(db, channel);
  return row === undefined ? 0 : Number(row.last_offset);
}

/** Committed events of `channel` with offsets in (after, upTo], in order, from the outbox. */
export async function readOutbox(db: Kysely<TandemTables>, channel: string, after: number, upTo: number): Promise<ChannelEvent[]> {
  const rows = await db
    .selectFrom('channel_events')
    .select(['offset', 'event', 'data'])
    .where('channel', '=', channel)
    .where('offset', '>', after)
    .where('offset', '<=', upTo)
    .orderBy('offset')
    .execute();
  return rows.map((row) => ({ channel, offset: Number(row.offset), event: row.event, data: JSON.parse(row.data) as unknown }));
}

/** Deletes outbox rows written before `before` (ISO time); returns how many. */
export async function sweepOutbox(db: Kysely<TandemTables>, before: string): Promise<number> {
  const result = await db.deleteFrom('channel_events').where('created_at', '<', before).executeTakeFirst();
  return Number(result.numDeletedRows);
}

/** The newest outbox offset of every channel written to between `from` and `until` (ISO times). */
export async function recentOutboxHeads(db: Kysely<TandemTables>, from: string, until: string): Promise<Array<{ channel: string; last: number }>> {
  const rows = await db
    .selectFrom('channel_events')
    .select(({ fn }) => ['channel', fn.max('offset').as('last')])
    .where('created_at', '>', from)
    .where('created_at', '<=', until)
    .groupBy('channel')
    .execute();
  return rows.map((row) => ({ channel: row.channel, last: Number(row.last) }));
}
