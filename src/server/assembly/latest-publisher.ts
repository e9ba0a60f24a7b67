import type { ChannelLog } from '../store/channel-log';

type Read<D> = (db: D) => Promise<unknown>;

export interface LatestPublisherOptions<D> {
  /** Runs a transaction whose log's events are published after the commit (the context's `transaction`). */
  transaction: <R>(work: (trx: D, log: ChannelLog) => Promise<R>) => Promise<R>;
  setTimer: (callback: () => void, ms: number) => unknown;
  clearTimer: (handle: unknown) => void;
  onError: (error: unknown, key: { channel: string; event: string }) => void;
}

interface Pending<D> {
  channel: string;
  event: string;
  read: Read<D>;
  timer: unknown;
  /** Asked again while a publication of this key was being written: one more follows. */
  again: boolean;
  /** The publication being written, if one is. */
  running: Promise<void> | undefined;
  /** Failed attempts in a row; after MAX_ATTEMPTS the request is dropped (and reported each time). */
  failures: number;
}

const MAX_ATTEMPTS = 3;

/**
 * Coalesced durable publications (TandemContext.publishLatest): for each (channel, event), the
 * first request starts a timer; when it fires, one transaction reads the current state and appends
 * it to the channel. Requests meanwhile only replace the reader. The data is a full state (not a
 * delta), so a subscriber that gets any one of them, or recovers the last, is current.
 */
export class LatestPublisher<D> {
  readonly #options: LatestPublisherOptions<D>;
  readonly #pending = new Map<string, Pending<D>>();
  #closed = false;

  constructor(options: LatestPublisherOptions<D>) {
    this.#options = options;
  }

  request(channel: string, event: string, read: Read<D>, intervalMs = 100): void {
    if (this.#closed) return;
    const key = `${channel}\u0000${event}`;
    const pending = this.#pending.get(key);
    if (pending !== undefined) {
      pending.read = read;
      if (pending.running !== undefined) pending.again = true;
      return;
    }
    const entry: Pending<D> = { channel, event, read, timer: undefined, again: false, running: undefined, failures: 0 };
    entry.timer = this.#options.setTimer(() => void this.#publish(key, entry, intervalMs), intervalMs);
    this.#pending.set(key, entry);
  }

  /**
   * Publishes everything pending now, then takes no more (on close, before the store goes): what is
   * being written is waited for, and a state asked for meanwhile still goes out after it.
   */
  async close(): Promise<void> {
    this.#closed = true;
    await Promise.all([...this.#pending.entries()].map(async ([key, entry]) => {
      this.#options.clearTimer(entry.timer);
      if (entry.running !== undefined) await entry.running;
      if (entry.running === undefined && (entry.again || this.#pending.get(key) === entry)) {
        entry.again = false;
        await this.#publish(key, entry, 0);
      }
    }));
  }

  #publish(key: string, entry: Pending<D>, intervalMs: number): Promise<void> {
    const run = this.#write(entry).then(() => {
      entry.running = undefined;
      if (entry.again && !this.#closed) {
        entry.again = false;
        entry.timer = this.#options.setTimer(() => void this.#publish(key, entry, intervalMs), intervalMs);
        return;
      }
      if (!entry.again) this.#pending.delete(key);
    });
    entry.running = run;
    return run;
  }

  async #write(entry: Pending<D>): Promise<void> {
    try {
      await this.#options.transaction(async (trx, log) => {
        await log.append(entry.channel, entry.event, await entry.read(trx));
      });
      entry.failures = 0;
    } catch (error) {
      this.#options.onError(error, { channel: entry.channel, event: entry.event });
      // The state still has to reach subscribers: try again next interval, a few times.
      entry.failures += 1;
      if (entry.failures < MAX_ATTEMPTS) entry.again = true;
    }
  }
}
