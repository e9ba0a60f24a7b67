/**
 * The Tandem node of the storm bench: the social app (src/apps/social) as `npm start` runs it,
 * through `serve()` (settings from the environment, SQLite in TANDEM_DATA_DIR, the in-process
 * broker, drain on SIGTERM), plus two bench-only routes outside the REST rate limit:
 *
 * - GET /bench/sessions?from&count: account `storm<i>` for each i (created once, with one
 *   precomputed argon2id hash: registering 10,000 accounts over REST would cost 10,000 hashes,
 *   ~13 ms of the server core each) and a new session for each, as a login makes it; answers
 *   the access tokens.
 * - GET /bench/stats: connections and subscriptions.
 *
 * It prints `tandem listening on <port>` once it listens (PORT, HOST from the environment).
 */
import { createAccount, defineApp, hashPassword, serve } from 'tandem/server';
import { socialApp } from '../../src/apps/social/app';
import { whenParentGone } from '../common/children';

const passwordHash = await hashPassword('storm-bench-only');
let stats: (() => object) | undefined;

const benchApp = defineApp({
  ...socialApp,
  routes(app, ctx) {
    socialApp.routes?.(app, ctx);
    const hidden = { config: { rateLimit: false }, schema: { hide: true } } as const;
    app.get('/bench/sessions', hidden, async (request) => {
      const query = request.query as { from?: string; count?: string };
      const from = Number(query.from ?? 0);
      const names = Array.from({ length: Math.min(5000, Number(query.count ?? 1)) }, (_, i) => `storm${from + i}`);
      const found = await ctx.db.selectFrom('users').select(['id', 'username']).where('username', 'in', names).execute();
      const ids = new Map(found.map((row) => [row.username, row.id]));
      const missing = names.filter((name) => !ids.has(name));
      if (missing.length > 0) {
        await ctx.transaction(async (trx) => {
          for (const username of missing) ids.set(username, (await createAccount(trx, { username, displayName: username, passwordHash })).id);
        });
      }
      const tokens: string[] = [];
      for (const name of names) tokens.push((await ctx.issueSession(ids.get(name)!)).accessToken);
      return tokens;
    });
    app.get('/bench/stats', hidden, async () => ({ ...stats?.(), pid: process.pid }));
  },
});

await serve(benchApp, {
  onListening(server, url) {
    stats = () => server.stats();
    process.stdout.write(`tandem listening on ${new URL(url).port}\n`);
  },
});

// The runner owns us: if it goes away, so do we (SIGTERM: serve's drain).
whenParentGone(() => process.kill(process.pid, 'SIGTERM'));
