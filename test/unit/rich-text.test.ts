import { describe, expect, it } from 'vitest';
import { FOLD_CHARS, FOLD_LINES, foldPoint, safeHref, segments, truncate } from '../../web/src/rich-text';

/** The web UI's text pieces (web/src/rich-text.ts): which parts of a text become links, and where a long one folds. */

describe('segments', () => {
  it('links http(s) addresses and emails, mentions by username, and keeps the rest text, losing nothing', () => {
    const text = 'see https://example.com/a?b=1, ask @alice or mail me@x.com (www.tandem.dev).';
    const parts = segments(text);
    expect(parts.map((p) => p.text).join('')).toBe(text);
    expect(parts.filter((p) => p.kind !== 'text')).toEqual([
      { kind: 'link', text: 'https://example.com/a?b=1', href: 'https://example.com/a?b=1' },
      { kind: 'mention', text: '@alice', username: 'alice' },
      { kind: 'link', text: 'me@x.com', href: 'mailto:me@x.com' },
      { kind: 'link', text: 'www.tandem.dev', href: 'http://www.tandem.dev/' },
    ]);
  });

  it('never links javascript:, data:, vbscript:, file: or ftp: addresses', () => {
    for (const text of ['javascript:alert(1)', 'JaVaScRiPt:alert(document.cookie)', 'data:text/html,<script>x</script>', 'vbscript:msgbox', 'file:///etc/passwd', 'ftp://files.example.com/x']) {
      expect(segments(text).filter((p) => p.kind === 'link'), text).toEqual([]);
    }
    expect(safeHref('javascript:alert(1)')).toBeUndefined();
    expect(safeHref('https://ok.example/')).toBe('https://ok.example/');
  });

  it('finds mentions side by side and at the start, not in emails', () => {
    expect(segments('@alice @bob_2! cc x@example.org').filter((p) => p.kind === 'mention').map((p) => p.text)).toEqual(['@alice', '@bob_2']);
  });

  it('keeps an @ inside an address part of the address, not a mention', () => {
    expect(segments('https://mastodon.example/@alice').map((p) => p.kind)).toEqual(['link']);
  });
});

describe('folding', () => {
  it('leaves short texts whole and folds long ones by characters or by lines', () => {
    expect(foldPoint('short')).toBeUndefined();
    expect(foldPoint('x'.repeat(FOLD_CHARS + 20))).toBeUndefined();
    const long = 'word '.repeat(400);
    const cut = foldPoint(long)!;
    expect(cut).toBeLessThanOrEqual(FOLD_CHARS);
    expect(long[cut]).toBe(' ');
    const lines = Array.from({ length: FOLD_LINES + 8 }, (_, i) => `line ${i}`).join('\n');
    expect(lines.slice(0, foldPoint(lines)).split('\n')).toHaveLength(FOLD_LINES);
  });

  it('never cuts a link in two: a link across the cut is kept whole', () => {
    const address = `https://example.com/${'x'.repeat(700)}`;
    const text = `see ${address} ${'b '.repeat(300)}`;
    const cut = foldPoint(text)!;
    expect(cut).toBeLessThan(4 + address.length);
    const kept = truncate(segments(text), cut);
    expect(kept.at(-1)).toEqual({ kind: 'link', text: address, href: address });
  });
});
