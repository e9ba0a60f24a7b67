/**
 * What an @mention looks like, shared by the server (which notifies) and the web UI (which links):
 * `@` and a username (3-24 letters, digits or _, as accounts allow), not inside a word or an email
 * address (`bob@example.com` mentions nobody) and not cut out of a longer run (`@` + 30 letters is
 * no mention). Pure, with no imports, so the browser bundle can take it.
 */
export const MENTION = /(?<![A-Za-z0-9_@])@([A-Za-z0-9_]{3,24})(?![A-Za-z0-9_@])/g;

/** At most this many people are notified per text; further names are still linked, not notified. */
export const MAX_MENTIONS = 10;

/** The distinct usernames mentioned in a text, in lower case, in order of first appearance. */
export function mentionedUsernames(text: string): string[] {
  const names = new Set<string>();
  for (const match of text.matchAll(MENTION)) names.add(match[1]!.toLowerCase());
  return [...names];
}
