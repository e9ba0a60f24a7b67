import type { Timers } from '../platform';
import { StateMachine, type TransitionTable } from '../state';
import { TimerSlot } from '../timer-slot';

/** The part of the Web Locks API (`navigator.locks`) the election uses. */
export interface LockManagerLike {
  request(name: string, options: { signal?: AbortSignal; steal?: boolean }, callback: (lock: unknown) => unknown): Promise<unknown>;
}

/** 'idle': not a candidate; 'waiting': queued for the lock; 'leading': holds it (and runs the hub). */
export type ElectionState = 'idle' | 'waiting' | 'leading';

const electionTransitions: TransitionTable<ElectionState> = {
  idle: ['waiting'],
  // waiting → waiting: the queued request is given up for one that takes the lock by force.
  waiting: ['leading', 'waiting', 'idle'],
  leading: ['waiting', 'idle'],
};

export interface ElectionOptions {
  /** The lock's name: whoever holds it leads. */
  lock: string;
  locks: LockManagerLike;
  timers: Timers;
  clock: () => number;
  /** How long a waiting tab hears nothing from the hub before it takes the lock by force (`steal`). */
  silenceMs: number;
  /** Whether this tab may take the lead by force now. Default: always. A hidden tab's timers are throttled, so the browser shows its silence late. */
  mayTakeOver?(): boolean;
  /** This tab leads now: start the hub. Returns what stops it. */
  lead(): () => void;
}

/**
 * Leader election with Web Locks: every candidate tab asks for one lock; the browser grants it to
 * one tab at a time, and to the next in line the moment the holder closes, crashes or lets go (a
 * page that freezes or goes into the back/forward cache lets go: see share.ts). A leader that hangs
 * without letting go is caught by silence: a waiting tab that has not heard the hub for
 * `silenceMs` takes the lock with `steal`, and the old holder, whose request then fails, steps
 * down and queues again.
 *
 * @example
 * const election = new LeaderElection({ lock: 'app:leader', locks: navigator.locks, timers, clock: Date.now, silenceMs: 5_000, lead: () => startHub() });
 * election.start(); // … election.heard() on every message of the hub; election.stop() on pagehide
 */
export class LeaderElection {
  readonly #options: ElectionOptions;
  readonly #machine = new StateMachine(electionTransitions, 'idle');
  readonly #watch: TimerSlot;
  /** Bumped by every request and by stop(): the end of an older request is not this one's. */
  #generation = 0;
  #abort: AbortController | undefined;
  #release: (() => void) | undefined;
  #resign: (() => void) | undefined;
  #lastHeard = 0;

  constructor(options: ElectionOptions) {
    this.#options = options;
    this.#watch = new TimerSlot(options.timers);
  }

  get state(): ElectionState {
    return this.#machine.state;
  }

  /** Becomes a candidate (a no-op unless idle). */
  start(): void {
    if (this.#machine.is('idle')) this.#request(false);
  }

  /** Leaves the election: the lead, if held, goes to the next tab in line at once. */
  stop(): void {
    this.#generation += 1;
    this.#watch.clear();
    this.#abort?.abort();
    this.#abort = undefined;
    this.#stepDown();
    this.#machine.transition('idle');
  }

  /** The hub spoke (any message): it is alive. */
  heard(): void {
    this.#lastHeard = this.#options.clock();
  }

  #request(steal: boolean): void {
    const generation = ++this.#generation;
    this.#machine.transition('waiting');
    this.#lastHeard = this.#options.clock();
    const abort = steal ? undefined : new AbortController();
    this.#abort = abort;
    const options = abort === undefined ? { steal: true } : { signal: abort.signal };
    this.#options.locks.request(this.#options.lock, options, () => this.#lead(generation)).then(
      () => this.#ended(generation),
      () => this.#ended(generation),
    );
    if (!steal) this.#watchSilence(generation);
  }

  /** The lock is ours: lead until we let go (the promise resolves) or another tab steals it. */
  #lead(generation: number): Promise<void> | undefined {
    // Granted after we gave up on this request: let go at once.
    if (generation !== this.#generation || !this.#machine.is('waiting')) return undefined;
    this.#watch.clear();
    this.#abort = undefined;
    this.#machine.transition('leading');
    this.#resign = this.#options.lead();
    return new Promise((release) => (this.#release = release));
  }

  /** The current request ended without our letting go: the lock was stolen, or the request failed. */
  #ended(generation: number): void {
    if (generation !== this.#generation) return;
    if (this.#machine.is('leading')) {
      this.#stepDown();
      return this.#request(false);
    }
    // The lock manager refused the request itself: ask again later, not in a tight loop.
    this.#watch.schedule(() => {
      if (generation === this.#generation) this.#request(false);
    }, this.#options.silenceMs);
  }

  #stepDown(): void {
    const [resign, release] = [this.#resign, this.#release];
    this.#resign = undefined;
    this.#release = undefined;
    resign?.();
    release?.();
  }

  #watchSilence(generation: number): void {
    const { silenceMs, clock } = this.#options;
    const due = Math.max(this.#lastHeard + silenceMs - clock(), silenceMs / 5);
    this.#watch.schedule(() => {
      if (generation !== this.#generation || !this.#machine.is('waiting')) return;
      if (clock() - this.#lastHeard < silenceMs || this.#options.mayTakeOver?.() === false) return this.#watchSilence(generation);
      this.#abort?.abort();
      this.#request(true);
    }, due);
  }
}
