import { REACTIONS, type ReactionCounts, type ReactionName, type ReactionTarget } from '../../src/apps/social/reactions';
import type { ReactionsChanged, ReactionState } from '../../src/apps/social/schemas';
import { describeError } from './api';
import type { SessionContext } from './context';
import { h, replace } from './dom';

/**
 * Reaction buttons under posts and comments. The counts come with the (publicly cached) post or
 * comment and then live from `reactions.changed` frames; which ones are yours is private, read once
 * for all the bars a page draws (GET /api/me/reactions, batched) and kept here. A click toggles at
 * once (optimistic) and rolls back if the server refuses.
 */

const key = (target: ReactionTarget, id: number) => `${target}:${id}`;

interface Bar {
  el: HTMLElement;
  render(): void;
}

/** What this page knows, by target key: the latest counts, your reactions, the bars showing them. */
const counts = new Map<string, ReactionCounts>();
const mine = new Map<string, Set<ReactionName>>();
const bars = new Map<string, Set<Bar>>();
/** Changes being sent, by target key and reaction: live frames do not undo them meanwhile. */
const sending = new Set<string>();
/** Whether a change to target `k` is being sent. */
const isSending = (k: string) => [...sending].some((s) => s.startsWith(`${k}:`));
let forUser: number | undefined;

/** Targets whose "mine" is not known yet, fetched together on the next tick. */
let wanted: { posts: Set<number>; comments: Set<number> } | undefined;

function renderAll(k: string): void {
  const shown = bars.get(k);
  if (shown === undefined) return;
  for (const bar of shown) {
    // A bar that left the page (its card was redrawn, the view changed) is forgotten.
    if (bar.el.isConnected) bar.render();
    else shown.delete(bar);
  }
  if (shown.size === 0) bars.delete(k);
}

function askMine(ctx: SessionContext, target: ReactionTarget, id: number): void {
  if (wanted === undefined) {
    wanted = { posts: new Set(), comments: new Set() };
    setTimeout(() => void fetchMine(ctx), 0);
  }
  (target === 'post' ? wanted.posts : wanted.comments).add(id);
}

async function fetchMine(ctx: SessionContext): Promise<void> {
  const ask = wanted!;
  wanted = undefined;
  const posts = [...ask.posts];
  const comments = [...ask.comments];
  // At most 100 ids of each kind per request (the route's bound).
  for (let start = 0; start < Math.max(posts.length, comments.length); start += 100) {
    const page = { posts: posts.slice(start, start + 100), comments: comments.slice(start, start + 100) };
    try {
      const answer = await ctx.api.myReactions(page);
      for (const [target, ids, found] of [['post', page.posts, answer.posts], ['comment', page.comments, answer.comments]] as const) {
        for (const id of ids) {
          const k = key(target, id);
          mine.set(k, new Set(found[String(id)] ?? []));
          renderAll(k);
        }
      }
    } catch {
      // Not known: the buttons show counts only, unpressed; a later page asks again.
    }
  }
}

/**
 * Takes a `reactions.changed` frame's counts (the views pass their channel's messages); returns
 * whether the event was one. Bars on the page update at once.
 */
export function applyReactionEvent(event: string, data: unknown): boolean {
  if (event !== 'reactions.changed') return false;
  const changed = data as ReactionsChanged;
  for (const { id, reactions } of changed.posts) update(key('post', id), reactions);
  for (const { id, reactions } of changed.comments) update(key('comment', id), reactions);
  return true;
}

function update(k: string, reactions: ReactionCounts): void {
  // A toggle on its way keeps its optimistic count until the server's answer replaces it.
  if (isSending(k)) return;
  counts.set(k, reactions);
  renderAll(k);
}

/**
 * The reaction buttons of a post or comment: one per reaction (emoji, count, pressed when it is
 * yours). `initial` is the counts the post or comment came with.
 */
export function reactionBar(ctx: SessionContext, target: ReactionTarget, id: number, initial: ReactionCounts): HTMLElement {
  if (forUser !== ctx.session.me.id) {
    forUser = ctx.session.me.id;
    mine.clear();
  }
  const k = key(target, id);
  // A card redrawn for another reason (an edit, a comment count) comes with the counts its view
  // read back then; a bar still on the page has had every frame since, so its counts stay.
  const live = [...(bars.get(k) ?? [])].some((bar) => bar.el.isConnected);
  if (!live && !isSending(k)) counts.set(k, initial);
  // A view drawing it afresh asks again (batched): your reactions may have changed in another tab or device.
  if (!live || !mine.has(k)) askMine(ctx, target, id);

  const what = target === 'post' ? 'this post' : 'this comment';
  const buttons = REACTIONS.map((reaction) => {
    const count = h('span', { class: 'count' });
    const button = h('button', { type: 'button', class: 'reaction', 'data-reaction': reaction.name, on: { click: () => void toggle(reaction.name) } },
      h('span', { class: 'emoji', 'aria-hidden': 'true' }, reaction.emoji), count);
    return { reaction, button, count };
  });
  const problem = h('span', { class: 'reaction-error', role: 'status' });
  const el = h('div', { class: 'reactions', role: 'group', 'aria-label': `Reactions to ${what}` }, ...buttons.map((b) => b.button), problem);

  const render = () => {
    const now = counts.get(k) ?? {};
    const yours = mine.get(k);
    for (const { reaction, button, count } of buttons) {
      const n = now[reaction.name] ?? 0;
      const pressed = yours?.has(reaction.name) ?? false;
      button.setAttribute('aria-pressed', String(pressed));
      button.setAttribute('aria-label', `${reaction.label}${n > 0 ? `: ${n}` : ''}`);
      button.title = reaction.label;
      button.classList.toggle('used', n > 0);
      replace(count, n > 0 ? String(n) : '');
    }
  };

  const toggle = async (name: ReactionName) => {
    const sendKey = `${k}:${name}`;
    if (sending.has(sendKey)) return;
    const before = { counts: { ...(counts.get(k) ?? {}) }, mine: new Set(mine.get(k) ?? []) };
    const add = !before.mine.has(name);
    // Optimistic: shown at once, undone if the server says no.
    const next = { ...before.counts, [name]: Math.max(0, (before.counts[name] ?? 0) + (add ? 1 : -1)) };
    if (next[name] === 0) delete next[name];
    counts.set(k, next);
    mine.set(k, new Set(add ? [...before.mine, name] : [...before.mine].filter((n) => n !== name)));
    renderAll(k);
    replace(problem);
    sending.add(sendKey);
    let answer: ReactionState | undefined;
    try {
      answer = add ? await ctx.api.react(target, id, name) : await ctx.api.unreact(target, id, name);
    } catch (error) {
      counts.set(k, before.counts);
      mine.set(k, before.mine);
      replace(problem, `Could not ${add ? 'react' : 'take back your reaction'}: ${describeError(error)}`);
    } finally {
      sending.delete(sendKey);
    }
    if (answer !== undefined) {
      replace(problem);
      counts.set(k, answer.reactions);
      mine.set(k, new Set(answer.mine));
    }
    renderAll(k);
  };

  const bar: Bar = { el, render };
  bars.set(k, (bars.get(k) ?? new Set()).add(bar));
  render();
  return el;
}
