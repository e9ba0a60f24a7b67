import type { Redis } from 'ioredis';
import type { Kysely } from 'kysely';
import type { RedisBroker } from '../broker';
import { readOutbox, recentOutboxHeads } from '../store/channel-log';
import type { TandemTables } from '../store/database';

export interface OutboxRepublisherOptions {
  db: Kysely<TandemTables>;
  broker: RedisBroker;
  /** For the lock that lets one node per round do the work. */
  redis: Redis;
  prefix: string;
  /** How often, ms; an event younger than this is left to its own publisher. */
  intervalMs: number;
  /** How far back a round looks (after the link to Redis came back: `catchUpMs`). */
  lookbackMs: number;
  catchUpMs: number;
  clock: () => number;
  log: { warn(obj: object, msg: string): void; info(obj: object, msg: string): void };
}

/**
 * Publishes committed events that never reached Redis: the node that committed them died before
 * publishing, or Redis was away. The broker fills a gap when a later offset arrives; this covers the
 * newest events of a channel, after which nothing arrives to reveal the gap. Each round (one node
 * per round, under a lock) compares the outbox's newest offset per recently written channel with
 * what Redis has published, and publishes the difference from the outbox, in order. The broker
 * drops what it already has, so a race with the original publisher is harmless.
 */
export class OutboxRepublisher {
  readonly #options: OutboxRepublisherOptions;
  readonly #timer: NodeJS.Timeout;
  #catchUp = false;
  #running = false;

  constructor(options: OutboxRepublisherOptions) {
    this.#options = options;
    this.#timer = setInterval(() => void this.round(), options.intervalMs);
    this.#timer.unref();
    options.broker.onGap((channel) => {
      // The link to Redis came back: the next round looks back over the whole outage.
      if (channel === undefined) this.#catchUp = true;
    });
  }

  /** One round (the timer runs them; tests may call it). Resolves with how many events it published. */
  async round(): Promise<number> {
    if (this.#running || this.#options.broker.state() !== 'ready') return 0;
    this.#running = true;
    try {
      const { redis, prefix, intervalMs } = this.#options;
      const locked = await redis.set(`${prefix}outbox:lock`, '1', 'PX', Math.max(50, intervalMs - 10), 'NX');
      if (locked !== 'OK') return 0;
      return await this.#republish();
    } catch (err) {
      this.#options.log.warn({ err }, 'republishing from the outbox failed');
      return 0;
    } finally {
      this.#running = false;
    }
  }

  close(): void {
    clearInterval(this.#timer);
  }

  async #republish(): Promise<number> {
    const { db, broker, clock, intervalMs } = this.#options;
    const now = clock();
    const lookback = this.#catchUp ? this.#options.catchUpMs : this.#options.lookbackMs;
    this.#catchUp = false;
    const heads = await recentOutboxHeads(db, new Date(now - lookback).toISOString(), new Date(now - intervalMs).toISOString());
    if (heads.length === 0) return 0;
    const published = await broker.publishedOffsets(heads.map((head) => head.channel));
    let count = 0;
    for (const { channel, last } of heads) {
      const done = published.get(channel);
      // Unknown to Redis: the first subscriber or publication seeds it from the database.
      if (done === undefined || done >= last) continue;
      for (const event of await readOutbox(db, channel, done, last)) {
        await broker.publish(event);
        count += 1;
      }
    }
    if (count > 0) this.#options.log.info({ count }, 'published committed events their node never published');
    return count;
  }
}
