/**
 * A History API router: same-origin links are followed without a page load, Back and Forward
 * work, and every client route is also a server route answering index.html (src/apps/social/web.ts),
 * so a reload or a shared link lands on the same screen.
 */

export interface Match {
  name: string;
  params: Record<string, string>;
}

interface Route {
  name: string;
  pattern: RegExp;
  keys: string[];
}

/** Compiles '/posts/:id' to a RegExp with named parameters (digits only for ids). */
function compile(name: string, path: string): Route {
  const keys: string[] = [];
  const source = path.replace(/:([a-z]+)/g, (_all, key: string) => {
    keys.push(key);
    return key === 'id' ? '([1-9][0-9]{0,9})' : '([^/]+)';
  });
  return { name, pattern: new RegExp(`^${source}/?$`), keys };
}

export class Router {
  readonly #routes: Route[];
  readonly #onChange: (match: Match | undefined, path: string) => void;
  /** The pathname and search last shown: a history move that changes only the #hash keeps the page. */
  #shown: string | undefined;

  constructor(routes: Record<string, string>, onChange: (match: Match | undefined, path: string) => void) {
    this.#routes = Object.entries(routes).map(([name, path]) => compile(name, path));
    this.#onChange = onChange;
  }

  /** Starts listening to link clicks and history moves. */
  start(): void {
    document.addEventListener('click', (event) => this.#onClick(event));
    window.addEventListener('popstate', () => {
      if (location.pathname + location.search !== this.#shown) this.#show();
    });
  }

  match(path: string): Match | undefined {
    for (const route of this.#routes) {
      const found = route.pattern.exec(path);
      if (found === null) continue;
      const params: Record<string, string> = {};
      route.keys.forEach((key, i) => (params[key] = decodeURIComponent(found[i + 1] ?? '')));
      return { name: route.name, params };
    }
    return undefined;
  }

  /** Shows `path` (with an optional ?query and #hash), adding a history entry unless `replace`. */
  navigate(path: string, options: { replace?: boolean } = {}): void {
    if (options.replace) history.replaceState(null, '', path);
    else if (path !== location.pathname + location.search + location.hash) history.pushState(null, '', path);
    this.#show();
  }

  /** Renders whatever the address bar says now. */
  refresh(): void {
    this.#show();
  }

  #show(): void {
    this.#shown = location.pathname + location.search;
    this.#onChange(this.match(location.pathname), location.pathname);
  }

  #onClick(event: MouseEvent): void {
    if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    const anchor = (event.target as Element | null)?.closest?.('a');
    if (anchor === null || anchor === undefined || anchor.target !== '' || anchor.hasAttribute('download')) return;
    const url = new URL(anchor.href, location.href);
    if (url.origin !== location.origin || url.pathname.startsWith('/api/') || this.match(url.pathname) === undefined) return;
    // A #hash on this page (the skip link): the browser scrolls to and focuses its target; nothing re-renders.
    if (url.hash !== '' && url.pathname === location.pathname && url.search === location.search) return;
    event.preventDefault();
    this.navigate(url.pathname + url.search + url.hash);
  }
}
