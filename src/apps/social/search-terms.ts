/**
 * What a search box's text means, in one place for the server (the store queries) and the web UI
 * (highlighting the words that matched). No imports: the web UI bundles it.
 *
 * A query is a list of words, every one of which a post must contain; the last one may be the
 * start of a word (search as you type). Nothing a person types is syntax: quotes, `*`, `-`, `:`,
 * parentheses, `OR`, `NEAR`, `AND` are punctuation or plain words, so a query can never fail to
 * parse or mean something other than "these words".
 */

/** The longest query either search route takes (characters). */
export const MAX_POST_QUERY = 200;
/** The longest people prefix (a username is at most 24, a display name 50). */
export const MAX_PEOPLE_QUERY = 64;
/** Words past this many are ignored: each is a term of the index query. */
export const MAX_TERMS = 16;

/**
 * A word: a letter or digit, then letters, digits and combining marks — the words SQLite FTS5's
 * unicode61 tokenizer and PostgreSQL's parser both find (everything else separates words, emoji too).
 */
const WORD = /[\p{L}\p{N}][\p{L}\p{N}\p{M}]*/gu;

/** The words of a query, in order, lower case, without repeats, at most MAX_TERMS. */
export function searchTerms(query: string): string[] {
  const words = query.normalize('NFC').toLowerCase().match(WORD) ?? [];
  return [...new Set(words)].slice(0, MAX_TERMS);
}

/**
 * Where the terms occur in `text`: [start, end) ranges in UTF-16 units, sorted, not overlapping.
 * A term matches at the start of a word; the last one also as the start of a longer word (prefix).
 * For highlighting as plain text ranges: the caller draws them as text, never as HTML.
 */
export function matchRanges(text: string, terms: readonly string[]): Array<[number, number]> {
  if (terms.length === 0) return [];
  const last = terms[terms.length - 1]!;
  const ranges: Array<[number, number]> = [];
  for (const match of text.matchAll(WORD)) {
    const word = match[0].toLowerCase();
    const start = match.index;
    if (terms.includes(word)) ranges.push([start, start + match[0].length]);
    else if (word.startsWith(last)) ranges.push([start, start + last.length]);
  }
  return ranges;
}
