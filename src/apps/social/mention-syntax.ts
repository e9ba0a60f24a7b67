/**
 * What an @mention looks like, shared by the server (which notifies) and the web UI (which links):
 * `@` and a username (3-24 letters, digits or _, as accounts allow), not inside a word or an email
 * address (`bob@example.com` mentions nobody) and not cut out of a longer run (`@` + 30 letters is
 * no mention). Pure, with no imports, so the browser bundle can take it.
 */
const MENTION = /(^|[^A-Za-z0-9_@])@([A-Za-z0-9_]{3,24})(?![A-Za-z0-9_@])/g;

/**
 * The mentions of a text: where each `@` is and the name after it. (MENTION's first group is the
 * character before the `@`, matched rather than looked behind at: Safari before 16.4 cannot parse
 * a lookbehind, and this module reaches the browser.)
 */
export function findMentions(text: string): Array<{ index: number; length: number; username: string }> {
  return [...text.matchAll(MENTION)].map((match) => ({ index: match.index + match[1]!.length, length: match[2]!.length + 1, username: match[2]! }));
}

/** At most this many people are notified per text; further names are still linked, not notified. */
export const MAX_MENTIONS = 10;

/** The distinct usernames mentioned in a text, in lower case, in order of first appearance. */
export function mentionedUsernames(text: string): string[] {
  const names = new Set<string>();
  for (const mention of findMentions(text)) names.add(mention.username.toLowerCase());
  return [...names];
}
