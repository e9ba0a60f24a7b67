import type { Redis } from 'ioredis';
import type { BrokerMessage } from './broker';
import { channelKeys, pendingKey, type BrokerScripts, type ChannelKeys, type ScriptContext } from './redis-scripts';

const SWEEP_BATCH = 20;

/** What the sweeper needs of its broker. */
export interface GapSweeperOptions {
  commands: Redis;
  scripts: BrokerScripts;
  prefix: string;
  /** How long an offset waits for its predecessor before the gap is filled or given up. */
  gapTimeoutMs: number;
  /** Committed events a publisher never delivered (the outbox); without it a gap is given up at once. */
  gapSource: ((channel: string, afterOffset: number, upToOffset: number) => Promise<BrokerMessage[]>) | undefined;
  /** This node's token for the per-channel fill lock. */
  lockToken: string;
  clock: () => number;
  /** Whether the broker is ready (a sweep stops as soon as it is not). */
  ready(): boolean;
  context(channel: string, keys: ChannelKeys): ScriptContext;
  publish(message: BrokerMessage): Promise<void>;
  log(level: 'info' | 'warn', msg: string, obj: Record<string, unknown>): void;
}

/**
 * Offsets that reached Redis before their predecessor wait in held:<channel>, and `pending` records
 * since when. Every ~gapTimeoutMs/4 the sweeper takes the channels whose hold is older than
 * gapTimeoutMs, one node at a time per channel (a lock that expires, as a node may die holding it),
 * publishes what the gap source has of the gap, and gives up the rest: the floor rises and a gap
 * notice tells every node to interrupt that channel's subscribers, so none misses it silently.
 */
export class GapSweeper {
  readonly #options: GapSweeperOptions;
  #timer: NodeJS.Timeout | undefined;
  #sweeping = false;

  constructor(options: GapSweeperOptions) {
    this.#options = options;
  }

  start(): void {
    if (this.#timer !== undefined) return;
    this.#timer = setInterval(() => void this.sweep(), Math.max(10, Math.floor(this.#options.gapTimeoutMs / 4)));
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** One pass: channels whose hold is older than gapTimeoutMs get filled or given up. */
  async sweep(): Promise<void> {
    const o = this.#options;
    if (this.#sweeping || !o.ready()) return;
    this.#sweeping = true;
    try {
      const cutoff = o.clock() - o.gapTimeoutMs;
      const due = await o.commands.zrangebyscore(pendingKey(o.prefix), '-inf', cutoff, 'LIMIT', 0, SWEEP_BATCH);
      for (const channel of due) {
        if (!o.ready()) return;
        await this.#resolveGap(channel, cutoff);
      }
    } catch (error) {
      o.log('warn', 'gap sweep failed', { err: errorMessage(error) });
    } finally {
      this.#sweeping = false;
    }
  }

  async #resolveGap(channel: string, cutoff: number): Promise<void> {
    const o = this.#options;
    const keys = channelKeys(o.prefix, channel);
    const lockMs = Math.max(1000, 5 * o.gapTimeoutMs);
    if ((await o.commands.set(keys.fill, o.lockToken, 'PX', lockMs, 'NX')) !== 'OK') return;
    try {
      const gap = await o.scripts.gapOf(o.context(channel, keys));
      if (gap.length === 2 && o.gapSource !== undefined) await this.#fill(channel, o.gapSource, Number(gap[0]), Number(gap[1]));
      if (!o.ready()) return;
      const outcome = await o.scripts.giveUp(o.context(channel, keys), cutoff);
      if (outcome === 'gave_up') o.log('warn', 'gave up waiting for missing offsets', { channel, after: gap[0], before: gap[1] });
    } finally {
      await o.scripts.unlock(keys.fill, o.lockToken).catch(() => undefined);
    }
  }

  /** Publishes what the gap source has of (last, firstHeld); a failure leaves the gap to be given up. */
  async #fill(channel: string, source: NonNullable<GapSweeperOptions['gapSource']>, last: number, firstHeld: number): Promise<void> {
    const o = this.#options;
    try {
      const found = await source(channel, last, firstHeld - 1);
      const missing = found
        .filter((m): m is BrokerMessage & { offset: number } => m.offset !== undefined && m.offset > last && m.offset < firstHeld)
        .sort((a, b) => a.offset - b.offset);
      for (const message of missing) {
        if (!o.ready()) return;
        await o.publish({ ...message, channel });
      }
      o.log('info', 'filled a gap from the gap source', { channel, after: last, before: firstHeld, found: missing.length });
    } catch (error) {
      o.log('warn', 'filling a gap failed: it will be given up', { channel, err: errorMessage(error) });
    }
  }
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
