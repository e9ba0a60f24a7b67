import { h } from './dom';

/** How long Undo is offered before the delete is sent. */
const UNDO_MS = 6_000;

export interface DeferredDelete {
  /** Names the item, e.g. 'post:7': while it is pending, a re-render keeps it hidden (`isPendingDelete`). */
  key: string;
  /** What the toast says, e.g. 'Post deleted.' */
  message: string;
  /** Sends the delete: when the toast expires, another delete starts, or the page is hidden or left. */
  commit(): Promise<void>;
  /** Undo: the item comes back; nothing was sent. */
  restore(): void;
  /** The delete was sent and refused (or the network failed): the item is back, say why. */
  failed(error: unknown): void;
}

interface Pending extends DeferredDelete {
  timer: number;
}

let pending: Pending | undefined;
let region: HTMLElement | undefined;

/** Whether an item's delete is waiting for its Undo to expire (so it must stay hidden when redrawn). */
export function isPendingDelete(key: string): boolean {
  return pending?.key === key;
}

/**
 * Deletes with an Undo instead of a confirmation dialog: the caller hides the item at once, a toast
 * ("Post deleted. Undo") is offered for UNDO_MS, and only then is the DELETE sent. Leaving or
 * hiding the page sends it at once (pagehide, visibilitychange), so a closed tab deletes what it
 * said it deleted. One toast at a time: a second delete sends the first.
 *
 * Accessible: the toast is a role=status region (its text is read out politely), Undo is a real
 * button, focused when the deleted item had focus (which would otherwise fall to the page), and
 * Escape in the toast dismisses it (the delete then goes).
 */
function deferDelete(item: DeferredDelete, options: { focusUndo?: boolean } = {}): void {
  flushPendingDelete();
  const toast = toastRegion();
  const undo = h('button', { type: 'button', class: 'toast-undo', 'data-testid': 'undo' }, 'Undo');
  const entry: Pending = { ...item, timer: window.setTimeout(() => flushPendingDelete(), UNDO_MS) };
  pending = entry;
  undo.addEventListener('click', () => {
    if (pending !== entry) return;
    window.clearTimeout(entry.timer);
    pending = undefined;
    hide(toast);
    entry.restore();
  });
  toast.replaceChildren(h('div', { class: 'toast', 'data-testid': 'toast' }, h('span', { class: 'toast-text' }, item.message), ' ', undo));
  if (options.focusUndo) undo.focus();
}

/**
 * `deferDelete` for an item on the page: hidden at once, shown again on Undo or when the delete
 * fails. `target` is looked up each time, since a live update may redraw the item meanwhile; Undo
 * takes focus if the item had it.
 */
export function deleteWithUndo(target: () => HTMLElement | null, item: Omit<DeferredDelete, 'restore'>): void {
  const hadFocus = target()?.contains(document.activeElement) ?? false;
  target()?.setAttribute('hidden', '');
  deferDelete({
    ...item,
    restore: () => target()?.removeAttribute('hidden'),
    failed: (e) => {
      target()?.removeAttribute('hidden');
      item.failed(e);
    },
  }, { focusUndo: hadFocus });
}

/** Sends the delete waiting for its Undo now, if there is one. */
export function flushPendingDelete(): void {
  const entry = pending;
  if (entry === undefined) return;
  pending = undefined;
  window.clearTimeout(entry.timer);
  if (region !== undefined) hide(region);
  entry.commit().catch((error: unknown) => entry.failed(error));
}

/** Hides the toast; focus inside it (on Undo) goes to the page's main heading rather than to nowhere. */
function hide(toast: HTMLElement): void {
  const hadFocus = toast.contains(document.activeElement);
  toast.replaceChildren();
  if (hadFocus) document.querySelector<HTMLElement>('main h1')?.focus({ preventScroll: true });
}

/** The one live region toasts appear in, made early and kept (screen readers ignore regions that appear with their text). */
function toastRegion(): HTMLElement {
  if (region !== undefined) return region;
  // Always there, empty between toasts (an empty region takes no room).
  const el = h('div', { class: 'toast-region', role: 'status', 'aria-live': 'polite' });
  el.addEventListener('keydown', (event) => {
    if (event.key === 'Escape') flushPendingDelete();
  });
  document.body.append(el);
  window.addEventListener('pagehide', flushPendingDelete);
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'hidden') flushPendingDelete();
  });
  region = el;
  return el;
}

/** Creates the toast region at start (see toastRegion). */
export function installToasts(): void {
  toastRegion();
}
