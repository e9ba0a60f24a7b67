import { nowMicros } from '../clock';
import type { CommitLog } from '../control-api';

/** The watched resource, as GET answers it and a push carries it. */
export interface ItemBody {
  id: number;
  version: number;
  /** When the change began, server clock (µs of process.hrtime). */
  at: number;
  pad: string;
}

const pads = new Map<number, string>();

/** The body of version `version`, padded so its JSON is `payloadBytes` long (or as short as it can be). */
export function itemBody(id: number, version: number, at: number, payloadBytes: number): ItemBody {
  const stamped = Math.round(at * 10) / 10;
  const bare = JSON.stringify({ id, version, at: stamped, pad: '' }).length;
  const length = Math.max(0, payloadBytes - bare);
  let pad = pads.get(length);
  if (pad === undefined) {
    pad = 'x'.repeat(length);
    pads.set(length, pad);
  }
  return { id, version, at: stamped, pad };
}

export interface ChangeLoopOptions {
  itemIds: number[];
  /** The version each resource has now; the loop's first change of it is the next one. */
  versions: ReadonlyMap<number, number>;
  changesPerSecond: number;
  payloadBytes: number;
  /** Commits one change (a transaction that writes it and appends it to the resource's channel). */
  commit(body: ItemBody): Promise<void>;
}

/**
 * Changes the resources at random, as a Poisson process: `changesPerSecond` per resource on
 * average, each change of a resource picked at random, the gaps between changes exponential (a
 * fixed schedule would line up with the polls: a poll every 500 ms of a resource changing every
 * 500 ms would find a change every time). One transaction per change; the loop remembers when each
 * version was begun, and the driver computes delivery latency and stale reads from that log.
 */
export class ChangeLoop {
  readonly #options: ChangeLoopOptions;
  readonly #entries: Array<{ id: number; firstVersion: number; at: number[] }>;
  readonly #next: number[];
  readonly #random: () => number;
  #stopped = false;
  #behind = 0;
  #wake: (() => void) | undefined;
  #running: Promise<void> | undefined;

  constructor(options: ChangeLoopOptions, random: () => number = Math.random) {
    this.#options = options;
    this.#random = random;
    this.#next = options.itemIds.map((id) => (options.versions.get(id) ?? 0) + 1);
    this.#entries = options.itemIds.map((id, i) => ({ id, firstVersion: this.#next[i]!, at: [] }));
  }

  start(): void {
    this.#running = this.#run().catch((error: unknown) => {
      process.stderr.write(`tandem bench server: the change loop stopped: ${String(error)}\n`);
    });
  }

  /** Stops after the change in progress; resolves with the log. */
  async stop(): Promise<CommitLog> {
    this.#stopped = true;
    this.#wake?.();
    await this.#running;
    return this.log();
  }

  log(): CommitLog {
    return { items: this.#entries.map((e) => ({ id: e.id, firstVersion: e.firstVersion, at: [...e.at] })), behind: this.#behind };
  }

  async #run(): Promise<void> {
    const count = this.#options.itemIds.length;
    if (count === 0 || this.#options.changesPerSecond <= 0) return;
    const meanGapUs = 1e6 / (count * this.#options.changesPerSecond);
    let due = nowMicros();
    while (!this.#stopped) {
      due += -Math.log(1 - this.#random()) * meanGapUs;
      const waitMs = (due - nowMicros()) / 1000;
      if (waitMs >= 1) await this.#sleep(waitMs);
      if (this.#stopped) return;
      const at = nowMicros();
      if (at - due > 50_000) this.#behind += 1;
      const slot = Math.floor(this.#random() * count);
      const version = this.#next[slot]!;
      this.#next[slot] = version + 1;
      this.#entries[slot]!.at.push(at);
      await this.#options.commit(itemBody(this.#options.itemIds[slot]!, version, at, this.#options.payloadBytes));
    }
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#wake = undefined;
        resolve();
      }, ms);
      this.#wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
}
