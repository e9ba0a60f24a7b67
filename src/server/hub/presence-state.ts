import type { PresenceUser } from '../../protocol/frames';

/**
 * Presence bookkeeping as pure functions over one (channel, user) entry; PresenceTracker is the
 * stateful wrapper. A user is present while at least one of their connections is subscribed,
 * and for a grace period after the last one went, so a quick reconnect does not flap.
 */
export interface PresenceEntry {
  readonly user: PresenceUser;
  /** Subscribed connections of this user on the channel. */
  readonly connections: number;
  /** Clock time the last connection went; undefined while connected. */
  readonly goneAt: number | undefined;
}

/**
 * A connection of `user` subscribed. 'join': the user was absent (announce it);
 * 'rejoin': back within the grace period (cancel the pending leave, announce nothing);
 * 'none': another connection of a user already present.
 */
export function connect(entry: PresenceEntry | undefined, user: PresenceUser): { entry: PresenceEntry; transition: 'join' | 'rejoin' | 'none' } {
  if (entry === undefined) return { entry: { user, connections: 1, goneAt: undefined }, transition: 'join' };
  const next = { user, connections: entry.connections + 1, goneAt: undefined };
  return { entry: next, transition: entry.connections === 0 ? 'rejoin' : 'none' };
}

/**
 * A connection of the entry's user went. 'grace': that was the last one; the user leaves
 * once the grace period passes without a reconnect. 'none': other connections remain.
 */
export function disconnect(entry: PresenceEntry, now: number): { entry: PresenceEntry; transition: 'grace' | 'none' } {
  if (entry.connections <= 1) return { entry: { user: entry.user, connections: 0, goneAt: now }, transition: 'grace' };
  return { entry: { user: entry.user, connections: entry.connections - 1, goneAt: undefined }, transition: 'none' };
}

/**
 * Whether the grace period of an entry is over. 'leave': drop it and announce the leave;
 * 'wait': not yet (check again in `inMs`); 'none': the user is connected (or already gone).
 */
export function expiry(
  entry: PresenceEntry | undefined,
  now: number,
  graceMs: number,
): { transition: 'leave' } | { transition: 'wait'; inMs: number } | { transition: 'none' } {
  if (entry === undefined || entry.goneAt === undefined) return { transition: 'none' };
  const remaining = entry.goneAt + graceMs - now;
  return remaining <= 0 ? { transition: 'leave' } : { transition: 'wait', inMs: remaining };
}
