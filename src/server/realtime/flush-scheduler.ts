import { PayloadEncoder } from './payload-encoder';

/**
 * Coalesces writes: connections that queued frames during this event-loop turn are flushed once,
 * at the end of the turn (setImmediate, i.e. after every promise continuation of the turn has
 * run), so a burst of publications becomes one socket write per connection.
 *
 * Not a microtask: a REST write's events are published one `await` apart (hub.publishCommitted),
 * and a microtask queued by the first one would run, and write, before the second is queued.
 *
 * Encoding happens once per distinct payload and framing, not once per connection: the run's
 * PayloadEncoder hands consecutive connections with the same frames the same bytes.
 */
export interface Flushable {
  /** Writes what is queued, encoded through `encoder`; returns the number of frames and bytes written. */
  flush(encoder: PayloadEncoder): { frames: number; bytes: number };
}

export interface FlushStats {
  writes: number;
  frames: number;
  bytes: number;
  /** Most frames coalesced into one write in this run. */
  maxFramesPerWrite: number;
  /** Milliseconds from the first frame queued in this turn to the end of the writes. */
  latencyMs: number;
}

export class FlushScheduler {
  readonly #dirty = new Set<Flushable>();
  readonly #onRun: (stats: FlushStats) => void;
  #scheduled = false;
  #markedAt = 0;
  /** The current run's encodings; reset after each run. */
  readonly #encoder = new PayloadEncoder();

  constructor(onRun: (stats: FlushStats) => void = () => {}) {
    this.#onRun = onRun;
  }

  readonly #run = () => {
    this.#scheduled = false;
    // Items marked while flushing (none today: flush does not publish) go to the next run.
    const dirty = [...this.#dirty];
    this.#dirty.clear();
    const stats: FlushStats = { writes: 0, frames: 0, bytes: 0, maxFramesPerWrite: 0, latencyMs: 0 };
    for (const item of dirty) {
      const written = item.flush(this.#encoder);
      if (written.frames === 0) continue;
      stats.writes += 1;
      stats.frames += written.frames;
      stats.bytes += written.bytes;
      if (written.frames > stats.maxFramesPerWrite) stats.maxFramesPerWrite = written.frames;
    }
    this.#encoder.reset();
    stats.latencyMs = performance.now() - this.#markedAt;
    if (stats.writes > 0) this.#onRun(stats);
  };

  mark(item: Flushable): void {
    this.#dirty.add(item);
    if (!this.#scheduled) {
      this.#scheduled = true;
      this.#markedAt = performance.now();
      setImmediate(this.#run);
    }
  }

  forget(item: Flushable): void {
    this.#dirty.delete(item);
  }

  /** Writes one connection's queue now (before a close frame), outside the turn's batch. */
  flushNow(item: Flushable): void {
    this.#dirty.delete(item);
    // An encoder of its own: a close may come while a run is writing, and must not disturb its encodings.
    item.flush(new PayloadEncoder());
  }
}
