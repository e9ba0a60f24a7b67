import { randomUUID } from 'node:crypto';
import { settleAll, type Broker, type BrokerMessage, type BrokerPosition, type HistoryResult } from './broker';
import { appendEntry, historyAt, raisePosition, readSince, trimHistory, type ChannelHistory, type HistoryLimits } from './channel-history';

export interface MemoryBrokerOptions {
  /** Most publications kept per channel. Default 1000. */
  historyMaxCount?: number;
  /** How often idle channels are trimmed by age, ms. Default 60_000. */
  sweepIntervalMs?: number;
  /** Oldest publication kept, in ms. Default 600_000 (10 minutes). */
  historyMaxAgeMs?: number;
  /**
   * Seeds a channel's position from the database on first use (e.g. `readPosition`), so after
   * a restart an empty history still reports the right current offset. Without it a channel
   * nobody published to since start reports offset 0.
   */
  positionSource?: (channel: string) => Promise<number>;
  /** Default Date.now. */
  clock?: () => number;
  /** Makes this instance's epoch. Default: a random UUID. */
  newEpoch?: () => string;
  /** Called with whatever a listener throws. Default: a process warning. */
  onListenerError?: (error: unknown) => void;
}

interface Registration {
  readonly listener: (message: BrokerMessage) => void;
}

/**
 * The one-process broker: fanout is a loop over listeners, history lives in this process.
 * History dies with the process, so each instance has its own random epoch: a client that
 * recovers across a restart learns `epoch_changed` instead of silently missing messages.
 *
 * @example
 *   const broker = new MemoryBroker({ positionSource: (ch) => readPosition(db, ch) });
 */
export class MemoryBroker implements Broker {
  readonly epoch: string;
  readonly #limits: HistoryLimits;
  readonly #clock: () => number;
  readonly #positionSource: ((channel: string) => Promise<number>) | undefined;
  readonly #onListenerError: (error: unknown) => void;
  readonly #channels = new Map<string, ChannelHistory>();
  readonly #seeded = new Set<string>();
  readonly #seeding = new Map<string, Promise<void>>();
  // A Set of wrapper objects, so one function can be registered (and removed) more than once.
  readonly #registrations = new Set<Registration>();
  #closed = false;
  readonly #sweeper: NodeJS.Timeout;

  constructor(options: MemoryBrokerOptions = {}) {
    this.epoch = (options.newEpoch ?? randomUUID)();
    this.#limits = { maxCount: options.historyMaxCount ?? 1000, maxAgeMs: options.historyMaxAgeMs ?? 600_000 };
    if (!(this.#limits.maxCount >= 0) || !(this.#limits.maxAgeMs >= 0)) throw new RangeError('history bounds must be non-negative');
    this.#clock = options.clock ?? Date.now;
    this.#positionSource = options.positionSource;
    this.#onListenerError = options.onListenerError ?? ((error) =>
      process.emitWarning(`A broker listener threw: ${error instanceof Error ? error.message : String(error)}`, { type: 'BrokerListenerError' }));
    // Age limits are otherwise applied when a channel is touched; an idle channel would keep
    // its history forever. The sweep keeps each channel's position (tiny) and frees its entries.
    this.#sweeper = setInterval(() => this.sweep(), options.sweepIntervalMs ?? 60_000);
    this.#sweeper.unref();
  }

  async publish(message: BrokerMessage): Promise<void> {
    this.#assertOpen();
    if (message.offset !== undefined && !this.#record(message as BrokerMessage & { offset: number })) return;
    for (const registration of this.#registrations) {
      try {
        registration.listener(message);
      } catch (error) {
        this.#onListenerError(error);
      }
    }
  }

  async publishAll(messages: readonly BrokerMessage[]): Promise<void> {
    return settleAll(messages.map((message) => this.publish(message)));
  }

  onMessage(listener: (message: BrokerMessage) => void): () => void {
    const registration = { listener };
    this.#registrations.add(registration);
    return () => {
      this.#registrations.delete(registration);
    };
  }

  async history(channel: string, since: BrokerPosition, limit: number): Promise<HistoryResult> {
    const history = await this.#current(channel);
    const position = { epoch: this.epoch, offset: history.last };
    if (since.epoch !== this.epoch) return { ok: false, why: 'epoch_changed', ...position };
    const read = readSince(history, since.offset, limit);
    return read.ok ? { ok: true, publications: read.publications, ...position } : { ok: false, why: read.why, ...position };
  }

  async position(channel: string): Promise<BrokerPosition> {
    const history = await this.#current(channel);
    return { epoch: this.epoch, offset: history.last };
  }

  /** One process: every publication reaches onMessage already. */
  async watch(_channel: string): Promise<void> {
    this.#assertOpen();
  }

  unwatch(_channel: string): void {}

  /** One process loses nothing between publish and delivery: never called. */
  onGap(_listener: (channel: string | undefined) => void): () => void {
    return () => undefined;
  }

  /** Trims every channel's history by age now (the broker also does it every sweepIntervalMs). */
  sweep(): void {
    const now = this.#clock();
    for (const history of this.#channels.values()) trimHistory(history, now, this.#limits);
  }

  async close(): Promise<void> {
    clearInterval(this.#sweeper);
    this.#closed = true;
    this.#registrations.clear();
    this.#channels.clear();
    this.#seeded.clear();
    this.#seeding.clear();
  }

  /** Stores a durable message; false when it is a duplicate that must not be fanned out. */
  #record(message: BrokerMessage & { offset: number }): boolean {
    let history = this.#channels.get(message.channel);
    if (history === undefined) {
      history = historyAt(message.offset - 1);
      this.#channels.set(message.channel, history);
    }
    return appendEntry(history, message, this.#clock(), this.#limits);
  }

  /** The channel's history, seeded on first use and trimmed by age (lazily, here). */
  async #current(channel: string): Promise<ChannelHistory> {
    this.#assertOpen();
    if (this.#positionSource !== undefined && !this.#seeded.has(channel)) await this.#seed(channel, this.#positionSource);
    this.#assertOpen();
    const history = this.#channels.get(channel);
    // A channel never published to (and not seeded) is not stored: reads must not grow the map.
    if (history === undefined) return historyAt(0);
    trimHistory(history, this.#clock(), this.#limits);
    return history;
  }

  /** One database read per channel, shared by concurrent callers; a failure is retried next time. */
  #seed(channel: string, source: (channel: string) => Promise<number>): Promise<void> {
    const pending = this.#seeding.get(channel);
    if (pending !== undefined) return pending;
    const seeding = Promise.resolve()
      .then(() => source(channel))
      .then((offset) => {
        if (this.#closed) return;
        const history = this.#channels.get(channel);
        if (history === undefined) this.#channels.set(channel, historyAt(offset));
        else raisePosition(history, offset);
        this.#seeded.add(channel);
      })
      .finally(() => {
        if (this.#seeding.get(channel) === seeding) this.#seeding.delete(channel);
      });
    this.#seeding.set(channel, seeding);
    return seeding;
  }

  #assertOpen(): void {
    if (this.#closed) throw new Error('The broker is closed');
  }
}
