import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { installStaticSite, type TandemHttpApp } from 'tandem/server';

const REPOSITORY_ROOT = fileURLToPath(new URL('../../..', import.meta.url));

const ID = ':id(^[1-9]\\d{0,9}$)';
/** A username as accounts allow it (letters, digits, _); an unknown one still opens the page, which says so. */
const USERNAME = ':username(^[A-Za-z0-9_]{1,64}$)';

/**
 * The web UI's client routes (web/src/app.ts, ROUTES): each answers index.html, so a reload or a
 * shared link opens the same screen. Ids are digits, as the client router expects.
 */
export const WEB_PAGES = ['/', '/login', '/signup', `/posts/${ID}`, '/notifications', '/messages', `/messages/${ID}`, '/profile', '/search', `/u/${USERNAME}`] as const;

const NOT_BUILT = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>Tandem: web UI not built</title></head>
<body>
<h1>Tandem social</h1>
<p>The REST API and the realtime endpoint are running, but the web UI has not been built.
Run <code>npm run build:web</code> (<code>npm start</code> does it) and restart.</p>
<p><a href="/api/docs">API documentation</a> · <a href="/healthz">/healthz</a> · <a href="/metrics">/metrics</a></p>
</body>
</html>`;

/** Serves the built web UI from `webRoot` (relative: from the repository root); false (and a short explanation at /) when it is not built. */
export function installWebUi(app: TandemHttpApp, webRoot: string): boolean {
  return installStaticSite(app, { root: path.resolve(REPOSITORY_ROOT, webRoot), pages: WEB_PAGES, missing: () => NOT_BUILT });
}
