import { find } from 'linkifyjs';
import { findMentions } from '../../src/apps/social/mention-syntax';
import { h } from './dom';
import { profileHref } from './people';

/**
 * Text people wrote, made a little richer and never more dangerous: web addresses (found by
 * linkifyjs, a maintained linkifier) and @mentions become links, everything else stays text. No
 * HTML is ever parsed: each piece is a text node or an <a> built with h(). Only http(s) and mailto
 * links are made; `javascript:`, `data:` and every other scheme stay plain text.
 */

export type Segment =
  | { kind: 'text'; text: string }
  | { kind: 'link'; text: string; href: string }
  | { kind: 'mention'; text: string; username: string };

const SAFE_SCHEMES = new Set(['http:', 'https:', 'mailto:']);

/** The href if it is an http(s) or mailto URL (normalized by the URL parser), else undefined. */
export function safeHref(href: string): string | undefined {
  try {
    const url = new URL(href);
    return SAFE_SCHEMES.has(url.protocol) ? url.href : undefined;
  } catch {
    return undefined;
  }
}

/** Splits plain text into text and @mention pieces. */
function mentionsIn(text: string): Segment[] {
  const out: Segment[] = [];
  let at = 0;
  for (const mention of findMentions(text)) {
    if (mention.index > at) out.push({ kind: 'text', text: text.slice(at, mention.index) });
    out.push({ kind: 'mention', text: text.slice(mention.index, mention.index + mention.length), username: mention.username });
    at = mention.index + mention.length;
  }
  if (at < text.length) out.push({ kind: 'text', text: text.slice(at) });
  return out;
}

/** The pieces of a text: links first (a mention inside an address stays part of it), then @mentions in what is left. */
export function segments(body: string): Segment[] {
  const out: Segment[] = [];
  let at = 0;
  for (const link of find(body)) {
    const href = link.isLink ? safeHref(link.href) : undefined;
    if (href === undefined || link.start < at) continue;
    out.push(...mentionsIn(body.slice(at, link.start)));
    out.push({ kind: 'link', text: link.value, href });
    at = link.end;
  }
  out.push(...mentionsIn(body.slice(at)));
  return out;
}

/** Longer than this (characters, or lines) and a text is folded behind "Show more". */
export const FOLD_CHARS = 600;
export const FOLD_LINES = 12;

/**
 * Where to cut a long text for its folded view, or undefined when it is short enough to show whole.
 * A text only a little over the limits is shown whole (folding away two words helps nobody). The
 * cut falls on a line break, or on a space when there is one in the last 80 characters, not in
 * the middle of a word.
 */
export function foldPoint(body: string): number | undefined {
  let cut = Math.min(body.length, FOLD_CHARS);
  let lines = 0;
  for (let i = 0; i < cut; i += 1) {
    if (body[i] === '\n' && (lines += 1) === FOLD_LINES) {
      cut = i;
      break;
    }
  }
  const rest = body.slice(cut);
  if (rest.length < 80 && rest.split('\n').length <= 3) return undefined;
  if (body[cut] === '\n') return cut;
  const space = body.slice(0, cut).search(/\s\S*$/);
  return space > cut - 80 && space > 0 ? space : cut;
}

/** The segments of the text's first `cut` characters; a link or mention across the cut is kept whole, never cut into a wrong address. */
export function truncate(all: readonly Segment[], cut: number): Segment[] {
  const out: Segment[] = [];
  let at = 0;
  for (const segment of all) {
    if (at >= cut) break;
    if (segment.kind === 'text' && at + segment.text.length > cut) out.push({ kind: 'text', text: segment.text.slice(0, cut - at).trimEnd() });
    else out.push(segment);
    at += segment.text.length;
  }
  return out;
}

function nodeOf(segment: Segment): Node {
  switch (segment.kind) {
    case 'text':
      return document.createTextNode(segment.text);
    case 'link':
      return h('a', { href: segment.href, rel: 'noopener noreferrer nofollow ugc', target: '_blank', class: 'ugc-link' }, segment.text);
    case 'mention':
      return h('a', { href: profileHref(segment.username), class: 'mention', 'data-mention': segment.username.toLowerCase() }, segment.text);
  }
}

/** A text as nodes: text nodes, and <a> for its http(s)/mailto links and @mentions. */
export function richText(body: string): Node[] {
  return segments(body).map(nodeOf);
}

let folds = 0;

/**
 * A text's paragraph, with links and mentions; a long one folded to its start with a "Show more"
 * button (aria-expanded, aria-controls) that shows the rest in place, and "Show less" after. The
 * folded paragraph holds only the start (ending in "…"), so a screen reader hears what a reader
 * sees, and the button says there is more.
 */
export function richBody(body: string, props: { class?: string; 'data-testid'?: string } = {}): HTMLElement {
  const all = segments(body);
  const cut = foldPoint(body);
  const paragraph = h('p', { class: props.class ?? 'body', 'data-testid': props['data-testid'] }, ...all.map(nodeOf));
  if (cut === undefined) return paragraph;
  folds += 1;
  paragraph.id = `folded-text-${folds}`;
  const toggle = h('button', { type: 'button', class: 'link-button show-more', 'aria-expanded': 'false', 'aria-controls': paragraph.id }, 'Show more');
  const show = (expanded: boolean) => {
    paragraph.replaceChildren(...(expanded ? all : truncate(all, cut)).map(nodeOf), ...(expanded ? [] : [document.createTextNode(body[cut] === '\n' ? '\n…' : '…')]));
    toggle.setAttribute('aria-expanded', String(expanded));
    toggle.textContent = expanded ? 'Show less' : 'Show more';
    paragraph.classList.toggle('folded', !expanded);
  };
  toggle.addEventListener('click', () => show(toggle.getAttribute('aria-expanded') !== 'true'));
  show(false);
  return h('div', { class: 'rich-body' }, paragraph, toggle);
}
