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
  running: boolean;
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
      if (pending.running) pending.again = true;
      return;
    }
    const entry: Pending<D> = { channel, event, read, timer: undefined, again: false, running: false, failures: 0 };
    entry.timer = this.#options.setTimer(() => void this.#publish(key, entry, intervalMs), intervalMs);
    this.#pending.set(key, entry);
  }

  /** Publishes everything pending now (on close, before the store goes), then takes no more. */
  async close(): Promise<void> {
    this.#closed = true;
    const entries = [...this.#pending.entries()];
    for (const [, entry] of entries) this.#options.clearTimer(entry.timer);
    await Promise.all(entries.filter(([, entry]) => !entry.running).map(([key, entry]) => this.#publish(key, entry, 0)));
  }

  async #publish(key: string, entry: Pending<D>, intervalMs: number): Promise<void> {
    entry.running = true;
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
    entry.running = false;
    if (entry.again && !this.#closed) {
      entry.again = false;
      entry.timer = this.#options.setTimer(() => void this.#publish(key, entry, intervalMs), intervalMs);
      return;
    }
    this.#pending.delete(key);
  }
}
