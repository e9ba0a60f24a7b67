import type { PresenceUser, SubscribeResult } from '../../protocol/frames';

/**
 * Pure presence merging: a snapshot from the subscribe answer, then `join` and `leave` diffs.
 * Lists are never mutated; every function returns a new one (sorted by user id).
 */

export interface ChannelPresence {
  /** The users online, on channels with presence; undefined on channels without a user list. */
  users: readonly PresenceUser[] | undefined;
  /** How many are online: the list's length, or the count of a counts-only channel. */
  count: number | undefined;
}

export const emptyPresence: ChannelPresence = { users: undefined, count: undefined };

function sorted(users: readonly PresenceUser[]): PresenceUser[] {
  return [...users].sort((a, b) => a.id - b.id);
}

/** The snapshot a subscribe answer carries (`pres`), or empty when it has none. */
export function presenceFromResult(pres: SubscribeResult['pres']): ChannelPresence {
  if (pres === undefined) return emptyPresence;
  if (Array.isArray(pres)) {
    const users = sorted(dedupe(pres));
    return { users, count: users.length };
  }
  return { users: undefined, count: pres.n };
}

function dedupe(users: readonly PresenceUser[]): PresenceUser[] {
  return [...new Map(users.map((u) => [u.id, u])).values()];
}

export function withJoin(snapshot: ChannelPresence, user: PresenceUser): ChannelPresence {
  const users = sorted([...(snapshot.users ?? []).filter((u) => u.id !== user.id), user]);
  return { users, count: users.length };
}

export function withLeave(snapshot: ChannelPresence, user: PresenceUser): ChannelPresence {
  const users = (snapshot.users ?? []).filter((u) => u.id !== user.id);
  return { users, count: users.length };
}

/**
 * Who joined and who left between two snapshots (after a reconnect the new snapshot replaces
 * the old one; the app hears the difference as ordinary join and leave events).
 */
export function diffPresence(before: ChannelPresence, after: ChannelPresence): { joined: PresenceUser[]; left: PresenceUser[] } {
  const was = new Map((before.users ?? []).map((u) => [u.id, u]));
  const now = new Map((after.users ?? []).map((u) => [u.id, u]));
  return {
    joined: [...now.values()].filter((u) => !was.has(u.id)),
    left: [...was.values()].filter((u) => !now.has(u.id)),
  };
}
