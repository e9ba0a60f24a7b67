import { describe, expect, it } from 'vitest';
import { matchRanges, MAX_TERMS, searchTerms } from '../../src/apps/social/search-terms';

/** What a search box's text means (src/apps/social/search-terms.ts), shared by the stores and the web UI. */
describe('searchTerms', () => {
  it('keeps the words, lower case, in order, once each', () => {
    expect(searchTerms('Quick  brown FOX, quick!')).toEqual(['quick', 'brown', 'fox']);
    expect(searchTerms('Émile à Zürich 2024')).toEqual(['émile', 'à', 'zürich', '2024']);
    expect(searchTerms('e\u0301te\u0301')).toEqual(['été']); // combining marks stay in the word (NFC)
  });

  it('reads every piece of query syntax as punctuation or as a plain word', () => {
    expect(searchTerms('"a OR b" NEAR(c d) -e f* g:h (AND)')).toEqual(['a', 'or', 'b', 'near', 'c', 'd', 'e', 'f', 'g', 'h', 'and']);
    expect(searchTerms("'; drop table posts; --")).toEqual(['drop', 'table', 'posts']);
    for (const nothing of ['', '   ', '"""', '***', '🙂🙂', '()', '\u0000', '\u0301']) expect(searchTerms(nothing), nothing).toEqual([]);
  });

  it('keeps at most MAX_TERMS words', () => {
    expect(searchTerms(Array.from({ length: 40 }, (_, i) => `w${i}`).join(' '))).toHaveLength(MAX_TERMS);
  });
});

describe('matchRanges', () => {
  it('finds whole words, and the last term as the start of a word', () => {
    const text = 'Kiwis and kiwi: the KIWI season';
    expect(matchRanges(text, ['kiwi'])).toEqual([[0, 4], [10, 14], [20, 24]]);
    expect(matchRanges(text, ['kiwi', 'sea'])).toEqual([[10, 14], [20, 24], [25, 28]]);
    expect(matchRanges(text, [])).toEqual([]);
    expect(matchRanges('<b>kiwi</b>', ['kiwi'])).toEqual([[3, 7]]); // text offsets: the caller draws text, never HTML
  });
});
