import type { PresenceUser } from '../../protocol/frames';
import { connect, disconnect, expiry, type PresenceEntry } from './presence-state';

export type SetTimer = (callback: () => void, ms: number) => unknown;
export type ClearTimer = (handle: unknown) => void;

export interface PresenceTrackerOptions {
  graceMs: number;
  clock: () => number;
  setTimer: SetTimer;
  clearTimer: ClearTimer;
  /** A user's grace period ended without a reconnect: they left the channel. */
  onLeave: (channel: string, user: PresenceUser) => void;
}

/** Who is in which channel, per user, with one grace timer per user who just went. */
export class PresenceTracker {
  readonly #options: PresenceTrackerOptions;
  readonly #channels = new Map<string, Map<number, PresenceEntry>>();
  readonly #timers = new Map<string, unknown>();
  #entries = 0;

  constructor(options: PresenceTrackerOptions) {
    this.#options = options;
  }

  /** A connection of `user` subscribed to `channel`; 'join' means announce it. */
  connect(channel: string, user: PresenceUser): 'join' | 'rejoin' | 'none' {
    let users = this.#channels.get(channel);
    if (users === undefined) {
      users = new Map();
      this.#channels.set(channel, users);
    }
    const previous = users.get(user.id);
    const { entry, transition } = connect(previous, user);
    users.set(user.id, entry);
    if (previous === undefined) this.#entries += 1;
    if (transition === 'rejoin') this.#cancelTimer(channel, user.id);
    return transition;
  }

  /** A connection of user `userId` left `channel`; their leave follows the grace period. */
  disconnect(channel: string, userId: number): void {
    const users = this.#channels.get(channel);
    const previous = users?.get(userId);
    if (users === undefined || previous === undefined) return;
    const { entry, transition } = disconnect(previous, this.#options.clock());
    users.set(userId, entry);
    if (transition === 'grace') this.#schedule(channel, userId, this.#options.graceMs);
  }

  users(channel: string): PresenceUser[] {
    const users = this.#channels.get(channel);
    return users === undefined ? [] : [...users.values()].map((entry) => entry.user);
  }

  count(channel: string): number {
    return this.#channels.get(channel)?.size ?? 0;
  }

  stats(): { entries: number; timers: number } {
    return { entries: this.#entries, timers: this.#timers.size };
  }

  /** Forgets everything without announcing leaves (the hub is closing). */
  clear(): void {
    for (const handle of this.#timers.values()) this.#options.clearTimer(handle);
    this.#timers.clear();
    this.#channels.clear();
    this.#entries = 0;
  }

  #schedule(channel: string, userId: number, ms: number): void {
    if (ms <= 0) {
      this.#expire(channel, userId);
      return;
    }
    const key = timerKey(channel, userId);
    const handle = this.#options.setTimer(() => {
      if (this.#timers.get(key) !== handle) return;
      this.#timers.delete(key);
      this.#expire(channel, userId);
    }, ms);
    this.#timers.set(key, handle);
  }

  #expire(channel: string, userId: number): void {
    const users = this.#channels.get(channel);
    const entry = users?.get(userId);
    const outcome = expiry(entry, this.#options.clock(), this.#options.graceMs);
    // A timer that fires before the clock says the grace is over waits the rest of it.
    if (outcome.transition === 'wait') return this.#schedule(channel, userId, outcome.inMs);
    if (outcome.transition === 'none' || users === undefined || entry === undefined) return;
    users.delete(userId);
    this.#entries -= 1;
    if (users.size === 0) this.#channels.delete(channel);
    this.#options.onLeave(channel, entry.user);
  }

  #cancelTimer(channel: string, userId: number): void {
    const key = timerKey(channel, userId);
    const handle = this.#timers.get(key);
    if (handle === undefined) return;
    this.#options.clearTimer(handle);
    this.#timers.delete(key);
  }
}

function timerKey(channel: string, userId: number): string {
  return `${userId} ${channel}`;
}
