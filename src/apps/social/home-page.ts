import { DEMO_PASSWORD, DEMO_USERS } from './seed';

/** The page at `/` until the web UI lands: what runs here and where to look. */
export function renderHomePage(): string {
  const logins = DEMO_USERS.map((u) => `<li><code>${u.username}</code> / <code>${DEMO_PASSWORD}</code></li>`).join('');
  return `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>Tandem</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:42rem;margin:3rem auto;padding:0 1rem;color:#1d1d1f}code{background:#f2f2f4;padding:0 .25rem;border-radius:3px}</style></head>
<body>
<h1>Tandem social</h1>
<p>REST owns state, the realtime channel owns change. The REST API is running.</p>
<ul>
<li><a href="/api/docs">API documentation</a> (<a href="/api/openapi.json">OpenAPI 3.1</a>)</li>
<li><a href="/api/posts">The feed</a> as JSON</li>
<li><a href="/healthz">/healthz</a>, <a href="/readyz">/readyz</a>, <a href="/metrics">/metrics</a></li>
</ul>
<p>Demo logins (seeded on first start):</p><ul>${logins}</ul>
</body>
</html>`;
}
