/**
 * The reactions people can leave on posts and comments: one list for the server (validation, the
 * table's values, the schemas) and the web UI (its buttons). Free of imports on purpose: the web
 * bundle takes it as a value, and nothing of the server's comes with it.
 */
export const REACTIONS = [
  { name: 'like', emoji: '👍', label: 'Like' },
  { name: 'love', emoji: '❤️', label: 'Love' },
  { name: 'laugh', emoji: '😂', label: 'Laugh' },
  { name: 'wow', emoji: '😮', label: 'Wow' },
  { name: 'sad', emoji: '😢', label: 'Sad' },
] as const;

export type ReactionName = (typeof REACTIONS)[number]['name'];

export const REACTION_NAMES: readonly ReactionName[] = REACTIONS.map((r) => r.name);

/** What a reaction is on. */
export type ReactionTarget = 'post' | 'comment';

/** Counts by reaction; only reactions someone left appear (a missing name is 0). */
export type ReactionCounts = Partial<Record<ReactionName, number>>;

export function isReactionName(value: unknown): value is ReactionName {
  return typeof value === 'string' && (REACTION_NAMES as readonly string[]).includes(value);
}

/** Most ids the "your reactions" lookup takes per kind in one request (one feed page is 20). */
export const MAX_REACTION_LOOKUP_IDS = 100;
