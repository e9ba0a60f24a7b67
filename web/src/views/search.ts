import type { Post, UserRef } from '../../../src/apps/social/schemas';
import { matchRanges, MAX_POST_QUERY, searchTerms } from '../../../src/apps/social/search-terms';
import { describeError } from '../api';
import type { SessionContext, View } from '../context';
import { announce, h, icon, replace, timeAgo, type Child } from '../dom';
import { avatar, profileHref, userLink } from '../people';

/**
 * The search page (/search?q=): people and posts for what is in the box, as you type. The query
 * stays in the address bar (replaceState: a reload or a shared link shows the same results; typing
 * does not fill the history), requests wait for a pause in typing, and a newer query aborts the
 * request of an older one, so results never arrive out of order.
 */

const DEBOUNCE_MS = 200;
/** How much of a long post a result shows, around its first match (characters). */
const SNIPPET = 220;

const SEARCH_ICON = ['M11 4a7 7 0 1 0 0 14 7 7 0 0 0 0-14z', 'M21 21l-4.3-4.3'];

/** The search box of the top bar: a form that opens /search?q=; on phones only its icon, a link to /search. */
export function topbarSearch(): HTMLElement {
  const input = h('input', { type: 'search', name: 'q', class: 'topbar-search-input', placeholder: 'Search', 'aria-label': 'Search people and posts', maxlength: MAX_POST_QUERY, autocomplete: 'off' });
  const form = h('form', { role: 'search', class: 'topbar-search', action: '/search', method: 'get' },
    input,
    h('a', { href: '/search', class: 'nav-link topbar-search-link', 'data-nav': '/search', 'aria-label': 'Search' }, icon(SEARCH_ICON)));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const q = input.value.trim();
    // Through a link, so the router (which follows same-origin link clicks) opens the page in place.
    const link = h('a', { href: q === '' ? '/search' : `/search?q=${encodeURIComponent(q)}`, hidden: true });
    form.append(link);
    link.click();
    link.remove();
    input.value = '';
  });
  return form;
}

/** `text` cut to about SNIPPET characters around the first match, with the matches as <mark> (text nodes only). */
function highlighted(text: string, terms: readonly string[]): Child[] {
  const ranges = matchRanges(text, terms);
  let start = 0;
  let end = text.length;
  if (text.length > SNIPPET) {
    const first = ranges[0]?.[0] ?? 0;
    start = Math.max(0, first - 60);
    const space = text.lastIndexOf(' ', start);
    if (start > 0 && space > start - 20) start = space + 1;
    end = Math.min(text.length, start + SNIPPET);
  }
  const parts: Child[] = start > 0 ? ['…'] : [];
  let at = start;
  for (const [from, to] of ranges) {
    if (to <= start || from >= end) continue;
    const a = Math.max(from, start);
    const b = Math.min(to, end);
    if (a > at) parts.push(text.slice(at, a));
    parts.push(h('mark', {}, text.slice(a, b)));
    at = b;
  }
  if (at < end) parts.push(text.slice(at, end));
  if (end < text.length) parts.push('…');
  return parts;
}

function personRow(user: UserRef): HTMLElement {
  return h('li', { class: 'search-person', 'data-username': user.username },
    h('a', { href: profileHref(user.username), class: 'search-person-link' },
      avatar(user, 'medium'),
      h('span', { class: 'search-person-names' }, h('span', { class: 'display-name' }, user.displayName), h('span', { class: 'handle' }, `@${user.username}`))));
}

function postRow(post: Post, terms: readonly string[]): HTMLElement {
  return h('li', { class: 'search-post', 'data-post-id': post.id },
    h('div', { class: 'meta' }, userLink(post.author, { withAvatar: true }), h('span', { 'aria-hidden': 'true' }, ' · '), timeAgo(post.createdAt)),
    h('p', { class: 'snippet' }, ...highlighted(post.body, terms)),
    h('a', { href: `/posts/${post.id}`, class: 'search-post-open' }, 'Open post', h('span', { class: 'visually-hidden' }, ` by ${post.author.displayName}`)));
}

export function searchView(ctx: SessionContext): View {
  const initial = new URLSearchParams(location.search).get('q') ?? '';
  const input = h('input', { id: 'search-q', type: 'search', name: 'q', value: initial, maxlength: MAX_POST_QUERY, autocomplete: 'off', spellcheck: 'false', placeholder: 'A name, @username or words in a post' });
  const status = h('p', { class: 'muted', role: 'status', 'data-testid': 'search-status' });
  const peopleList = h('ul', { class: 'search-people', 'aria-labelledby': 'search-people-title' });
  const postList = h('ul', { class: 'search-posts', 'aria-labelledby': 'search-posts-title' });
  const more = h('button', { type: 'button', class: 'secondary', hidden: true }, 'More posts');
  const peopleSection = h('section', { class: 'card search-section', hidden: true }, h('h2', { id: 'search-people-title' }, 'People'), peopleList);
  const postSection = h('section', { class: 'card search-section', hidden: true }, h('h2', { id: 'search-posts-title' }, 'Posts'), postList, more);

  let timer: number | undefined;
  let pending: AbortController | undefined;
  let nextCursor: string | null = null;
  let shown = '';

  async function run(q: string): Promise<void> {
    pending?.abort();
    const controller = new AbortController();
    pending = controller;
    const { signal } = controller;
    const terms = searchTerms(q);
    if (q.trim() === '') {
      shown = '';
      replace(status, 'Type a name or some words.');
      peopleSection.hidden = postSection.hidden = true;
      return;
    }
    replace(status, 'Searching…');
    try {
      // People match a prefix of one name: the whole query, trimmed (capped at the route's limit).
      const [people, posts] = await Promise.all([
        ctx.api.searchPeople(q.trim().slice(0, 64), { signal, limit: 8 }),
        terms.length === 0 ? Promise.resolve({ items: [] as Post[], nextCursor: null }) : ctx.api.searchPosts(q.slice(0, MAX_POST_QUERY), { signal, limit: 10 }),
      ]);
      if (signal.aborted) return;
      shown = q;
      replace(peopleList, ...people.map(personRow));
      replace(postList, ...posts.items.map((p) => postRow(p, terms)));
      nextCursor = posts.nextCursor;
      more.hidden = nextCursor === null;
      peopleSection.hidden = people.length === 0;
      postSection.hidden = posts.items.length === 0;
      const summary = people.length === 0 && posts.items.length === 0
        ? `Nothing found for “${q.trim()}”.`
        : `${count(people.length, 'person', 'people')} and ${count(posts.items.length, 'post', 'posts')}${nextCursor === null ? '' : ' (more below)'} for “${q.trim()}”.`;
      replace(status, summary);
    } catch (error) {
      if (signal.aborted) return;
      replace(status, describeError(error));
    }
  }

  more.addEventListener('click', () => {
    if (nextCursor === null) return;
    const terms = searchTerms(shown);
    const controller = new AbortController();
    pending = controller;
    more.disabled = true;
    ctx.api.searchPosts(shown.slice(0, MAX_POST_QUERY), { cursor: nextCursor, limit: 10, signal: controller.signal })
      .then((page) => {
        if (controller.signal.aborted) return;
        postList.append(...page.items.map((p) => postRow(p, terms)));
        nextCursor = page.nextCursor;
        more.hidden = nextCursor === null;
        announce(`${count(page.items.length, 'more post', 'more posts')}.`);
      }, (error: unknown) => { if (!controller.signal.aborted) replace(status, describeError(error)); })
      .finally(() => (more.disabled = false));
  });

  input.addEventListener('input', () => {
    window.clearTimeout(timer);
    const q = input.value;
    // The address bar follows the box without a history entry per keystroke.
    history.replaceState(null, '', q.trim() === '' ? '/search' : `/search?q=${encodeURIComponent(q)}`);
    timer = window.setTimeout(() => void run(q), DEBOUNCE_MS);
  });

  const form = h('form', { role: 'search', class: 'search-form', on: { submit: (event) => { event.preventDefault(); window.clearTimeout(timer); void run(input.value); } } },
    h('label', { for: 'search-q', class: 'visually-hidden' }, 'Search people and posts'), input);
  const el = h('section', { class: 'search-page' },
    h('h1', { id: 'search-title', tabindex: '-1' }, 'Search'),
    h('div', { class: 'card' }, form, status),
    peopleSection,
    postSection);
  void run(initial);
  // The box, not the heading, is where a search page wants the cursor.
  window.setTimeout(() => input.focus(), 0);
  return {
    title: initial === '' ? 'Search' : `Search: ${initial}`,
    el,
    dispose: () => {
      window.clearTimeout(timer);
      pending?.abort();
    },
  };
}

function count(n: number, one: string, many: string): string {
  return `${n} ${n === 1 ? one : many}`;
}
