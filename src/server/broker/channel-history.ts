import type { RecoveryFailure } from '../../protocol/frames';
import type { BrokerMessage } from './broker';

/** How much history a channel keeps; whichever bound is hit first trims. */
export interface HistoryLimits {
  /** Most publications kept per channel. */
  maxCount: number;
  /** Oldest publication kept, in ms. */
  maxAgeMs: number;
}

interface StoredEntry {
  readonly message: BrokerMessage;
  readonly offset: number;
  readonly at: number;
}

/**
 * One channel's bounded history. Invariants: entries are in ascending offset order, every
 * entry's offset is in (floor, last], and nothing published after `floor` was dropped, so a
 * client positioned at or after `floor` can be replayed exactly (gaps in offsets are accepted:
 * an offset the broker never saw was never delivered by it either).
 */
export interface ChannelHistory {
  /** The newest offset known: published here, or seeded from the database. */
  last: number;
  /** Recovery from below this offset is impossible (trimmed, or before this broker's time). */
  floor: number;
  /**
   * The newest offset published through this broker (0 = none; offsets start at 1). Duplicates
   * are judged against this, not against `last`: a seed read from the database may already
   * count a commit whose publication is still on its way, and that publication must still
   * reach live subscribers.
   */
  published: number;
  entries: StoredEntry[];
}

export type ReadResult = { ok: true; publications: BrokerMessage[] } | { ok: false; why: RecoveryFailure };

/** A history that knows position `offset` and nothing before it. */
export function historyAt(offset: number): ChannelHistory {
  return { last: offset, floor: offset, published: 0, entries: [] };
}

/**
 * Records a durable message (offset required); returns whether it should be fanned out.
 * Duplicates and late arrivals (offset <= newest published) are refused and change nothing.
 * An offset the seeded position already covers is fanned out but not stored: nobody can be
 * positioned before it here. Trims by count and age afterwards.
 */
export function appendEntry(history: ChannelHistory, message: BrokerMessage & { offset: number }, now: number, limits: HistoryLimits): boolean {
  if (message.offset <= history.published) return false;
  history.published = message.offset;
  if (message.offset <= history.last) return true;
  history.entries.push({ message, offset: message.offset, at: now });
  history.last = message.offset;
  trimHistory(history, now, limits);
  return true;
}

/** Drops entries beyond the count bound and entries older than the age bound, oldest first. */
export function trimHistory(history: ChannelHistory, now: number, limits: HistoryLimits): void {
  const entries = history.entries;
  let drop = Math.max(0, entries.length - limits.maxCount);
  while (drop < entries.length && now - entries[drop]!.at > limits.maxAgeMs) drop += 1;
  if (drop === 0) return;
  history.floor = entries[drop - 1]!.offset;
  entries.splice(0, drop);
}

/**
 * Moves the known position forward to `offset` (seeding from the database after a restart).
 * Anything between the old and new position was never seen here, so recovery from before it
 * becomes impossible: the retained entries no longer form a complete tail and are dropped.
 */
export function raisePosition(history: ChannelHistory, offset: number): void {
  if (offset <= history.last) return;
  history.last = offset;
  history.floor = offset;
  history.entries = [];
}

/**
 * What a client positioned at `since` missed, or why it cannot be replayed.
 * `since === last` is a full recovery with nothing to replay.
 */
export function readSince(history: ChannelHistory, since: number, limit: number): ReadResult {
  if (since > history.last) return { ok: false, why: 'never_positioned' };
  if (since < history.floor) return { ok: false, why: 'history_trimmed' };
  const start = firstAfter(history.entries, since);
  if (history.entries.length - start > limit) return { ok: false, why: 'too_many_missed' };
  const publications: BrokerMessage[] = [];
  for (let i = start; i < history.entries.length; i += 1) publications.push(history.entries[i]!.message);
  return { ok: true, publications };
}

/** Index of the first entry with an offset greater than `offset` (binary search). */
function firstAfter(entries: readonly StoredEntry[], offset: number): number {
  let low = 0;
  let high = entries.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if (entries[mid]!.offset <= offset) low = mid + 1;
    else high = mid;
  }
  return low;
}
