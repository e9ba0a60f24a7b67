/**
 * Small DOM helpers. The one rule they exist for: data reaches the page only as text
 * (`createTextNode`) or as an attribute value set with `setAttribute`; nothing here parses
 * HTML, so a post containing `<script>` or `<img onerror>` shows those characters and runs nothing.
 */

export type Child = Node | string | number | null | undefined | false;

export interface Props {
  class?: string;
  /** Event listeners, e.g. `{ click: () => … }`. */
  on?: { [K in keyof HTMLElementEventMap]?: (event: HTMLElementEventMap[K]) => void };
  /** Any attribute: strings and numbers are set, `true` sets an empty one, false/null/undefined skip it. */
  [attribute: string]: unknown;
}

/**
 * Creates an element with attributes and children (strings become text nodes).
 *
 * @example
 * h('p', { class: 'body' }, post.body) // <p class="body">…the body, as text…</p>
 */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, props: Props = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(props)) {
    if (name === 'on') continue;
    if (value === undefined || value === null || value === false) continue;
    // Event handler attributes would be code: listeners go through `on`.
    if (/^on/i.test(name)) throw new Error(`use props.on for ${name}`);
    element.setAttribute(name, value === true ? '' : String(value));
  }
  for (const [event, listener] of Object.entries(props.on ?? {})) element.addEventListener(event, listener as EventListener);
  append(element, ...children);
  return element;
}

/** Appends children; strings and numbers as text nodes. */
function append(parent: Node, ...children: Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    parent.appendChild(typeof child === 'string' || typeof child === 'number' ? document.createTextNode(String(child)) : child);
  }
}

/** Replaces all children of `parent`. */
export function replace(parent: Element, ...children: Child[]): void {
  parent.replaceChildren();
  append(parent, ...children);
}

const SVG = 'http://www.w3.org/2000/svg';

/** A decorative 24×24 stroke icon from path data (hidden from assistive technology). */
export function icon(paths: string[], className = 'icon'): SVGSVGElement {
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('class', className);
  svg.setAttribute('aria-hidden', 'true');
  svg.setAttribute('focusable', 'false');
  for (const d of paths) {
    const path = document.createElementNS(SVG, 'path');
    path.setAttribute('d', d);
    svg.appendChild(path);
  }
  return svg;
}

export const icons = {
  bell: ['M6 8a6 6 0 1 1 12 0c0 7 3 9 3 9H3s3-2 3-9', 'M10.3 21a1.94 1.94 0 0 0 3.4 0'],
  feed: ['M4 11a9 9 0 0 1 9 9', 'M4 4a16 16 0 0 1 16 16', 'M5 19h.01'],
  message: ['M21 15a2 2 0 0 1-2 2H7l-4 4V5a2 2 0 0 1 2-2h14a2 2 0 0 1 2 2z'],
  user: ['M20 21v-2a4 4 0 0 0-4-4H8a4 4 0 0 0-4 4v2', 'M12 3a4 4 0 1 0 0 8 4 4 0 0 0 0-8z'],
};

let liveRegion: HTMLElement | undefined;

/** Creates the live region `announce` speaks through; early, because screen readers ignore regions that appear with their first message. */
export function installAnnouncer(): void {
  if (liveRegion !== undefined) return;
  liveRegion = h('div', { class: 'visually-hidden', 'aria-live': 'polite', 'aria-atomic': 'true', 'data-testid': 'announcer' });
  document.body.appendChild(liveRegion);
}

/** Says something to screen readers (a polite, visually hidden live region). */
export function announce(message: string): void {
  installAnnouncer();
  const region = liveRegion!;
  // Cleared first, so the same message twice is announced twice.
  region.textContent = '';
  window.setTimeout(() => (region.textContent = message), 50);
}

/** A `<time>` with a short relative label and the full date as its tooltip. */
export function timeAgo(iso: string, now = Date.now()): HTMLTimeElement {
  const date = new Date(iso);
  return h('time', { datetime: iso, title: date.toLocaleString() }, relativeTime(date.getTime(), now));
}

const relative = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto', style: 'short' });

/** Keeps every `timeAgo` on the page current ("just now" becomes "2 min. ago"). */
export function refreshTimesEveryMinute(): void {
  window.setInterval(() => {
    const now = Date.now();
    for (const time of document.querySelectorAll<HTMLTimeElement>('time[datetime]')) {
      const label = relativeTime(Date.parse(time.dateTime), now);
      if (time.textContent !== label) time.textContent = label;
    }
  }, 60_000);
}

function relativeTime(then: number, now = Date.now()): string {
  const seconds = Math.round((then - now) / 1000);
  const abs = Math.abs(seconds);
  if (abs < 45) return 'just now';
  if (abs < 3600) return relative.format(Math.round(seconds / 60), 'minute');
  if (abs < 86_400) return relative.format(Math.round(seconds / 3600), 'hour');
  if (abs < 7 * 86_400) return relative.format(Math.round(seconds / 86_400), 'day');
  return new Date(then).toLocaleDateString(undefined, { year: 'numeric', month: 'short', day: 'numeric' });
}

/** Submits a form from its textarea with Ctrl/Cmd+Enter. */
export function submitOnModEnter(textarea: HTMLTextAreaElement): void {
  textarea.addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      textarea.form?.requestSubmit();
    }
  });
}

/** Puts exactly `nodes`, in this order, under `parent`, moving only what is out of place (focus inside unmoved nodes is kept). */
export function syncChildren(parent: Element, nodes: readonly Element[]): void {
  nodes.forEach((node, i) => {
    if (parent.children[i] !== node) parent.insertBefore(node, parent.children[i] ?? null);
  });
  while (parent.children.length > nodes.length) parent.lastElementChild?.remove();
}

/**
 * Elements kept per item key and rebuilt only when the item's stamp (e.g. its version) changes,
 * so a live update touches one row, not the list.
 */
export class Keyed<T> {
  readonly #entries = new Map<string | number, { stamp: string; el: HTMLElement }>();
  readonly #key: (item: T) => string | number;
  readonly #stamp: (item: T) => string;
  readonly #render: (item: T) => HTMLElement;

  constructor(key: (item: T) => string | number, stamp: (item: T) => string, render: (item: T) => HTMLElement) {
    this.#key = key;
    this.#stamp = stamp;
    this.#render = render;
  }

  /** The elements for `items`, in order (new ones rendered, changed ones re-rendered in place). */
  elements(items: readonly T[]): HTMLElement[] {
    const seen = new Set<string | number>();
    const elements = items.map((item) => {
      const key = this.#key(item);
      seen.add(key);
      const stamp = this.#stamp(item);
      let entry = this.#entries.get(key);
      if (entry === undefined || entry.stamp !== stamp) {
        const el = this.#render(item);
        entry?.el.replaceWith(el);
        entry = { stamp, el };
        this.#entries.set(key, entry);
      }
      return entry.el;
    });
    for (const key of [...this.#entries.keys()]) if (!seen.has(key)) this.#entries.delete(key);
    return elements;
  }

  /** Forgets every element (e.g. after a snapshot, to render afresh). */
  clear(): void {
    this.#entries.clear();
  }
}

/** A button that looks like a link or a small action. */
export function actionButton(label: string, onClick: () => void, props: Props = {}): HTMLButtonElement {
  return h('button', { type: 'button', class: 'link-button', ...props, on: { click: onClick } }, label);
}
