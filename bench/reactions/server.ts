/**
 * The reactions bench's server: the social app itself (src/apps/social), on a SQLite file in a temp
 * folder, in a process of its own so its CPU time is its own. Driven over IPC by run.ts:
 * `setup` makes the post's author, the subscribers and the reactors (accounts written directly, one
 * session each) and the post; `stop` closes. Every limit is raised but the per-user reaction
 * budget's, which the bench's one reaction per user never reaches. TANDEM_REACTION_PUSH_EACH (set
 * by run.ts) picks the naive side: every change appended in its own transaction.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createAccount, createServer, defineApp, hashPassword, loadConfig, type TandemServer } from 'tandem/server';
import { socialApp } from '../../src/apps/social/app';
import type { SocialContext } from '../../src/apps/social/context';
import { createPost } from '../../src/apps/social/repos/posts';

type Command = { id: number; cmd: 'setup'; subscribers: number; reactors: number } | { id: number; cmd: 'stop' };

const UNLIMITED = String(10_000_000);
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tandem-bench-reactions-'));
let ctx: SocialContext | undefined;

const benchSocial = defineApp({
  ...socialApp,
  routes(app, context) {
    ctx = context;
    return socialApp.routes?.(app, context);
  },
});

const config = loadConfig({
  LOG_LEVEL: 'silent',
  TANDEM_SEED: 'false',
  TANDEM_DATA_DIR: dataDir,
  TANDEM_RATE_LIMIT: UNLIMITED,
  TANDEM_RATE_LIMIT_BURST: UNLIMITED,
  TANDEM_WS_CONNECTIONS_PER_IP: UNLIMITED,
  TANDEM_WS_CONNECTIONS_PER_USER: UNLIMITED,
  TANDEM_WS_HANDSHAKES_PER_IP: UNLIMITED,
  TANDEM_WS_NEW_CONNECTIONS_PER_SECOND: UNLIMITED,
  TANDEM_WS_MESSAGES_PER_SECOND: UNLIMITED,
  TANDEM_WS_MESSAGE_BURST: UNLIMITED,
  ...pick(process.env, ['TANDEM_REACTION_PUSH_EACH', 'TANDEM_REACTION_INTERVAL_MS']),
}, socialApp.settings);

function pick(env: NodeJS.ProcessEnv, names: string[]): Record<string, string> {
  return Object.fromEntries(names.flatMap((name) => (env[name] === undefined ? [] : [[name, env[name]!]])));
}

const server: TandemServer = await createServer({ app: benchSocial, config, logger: false });
const url = await server.listen({ port: 0, host: '127.0.0.1' });

/** The accounts (written directly: hashing 700 passwords would be the bench), one session each, and the post. */
async function setup(subscribers: number, reactors: number): Promise<{ postId: number; subscriberTokens: string[]; reactorTokens: string[] }> {
  const context = ctx!;
  const passwordHash = await hashPassword('bench-only');
  const ids = await context.transaction(async (trx) => {
    const made: number[] = [];
    for (let i = 0; i < 1 + subscribers + reactors; i += 1) made.push((await createAccount(trx, { username: `bench${i}`, displayName: `Bench ${i}`, passwordHash })).id);
    return made;
  });
  const postId = await context.transaction(async (trx, log) => (await createPost(trx, log, ids[0]!, 'Like this post (the reactions bench)')).id);
  const tokens: string[] = [];
  for (const id of ids.slice(1)) tokens.push((await context.issueSession(id)).accessToken);
  return { postId, subscriberTokens: tokens.slice(0, subscribers), reactorTokens: tokens.slice(subscribers) };
}

process.on('message', (message: Command) => {
  const run = async (): Promise<unknown> => {
    if (message.cmd === 'setup') return setup(message.subscribers, message.reactors);
    await server.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
    setImmediate(() => process.exit(0));
    return null;
  };
  run().then(
    (result) => process.send?.({ id: message.id, ok: true, result }),
    (error: unknown) => process.send?.({ id: message.id, ok: false, error: String(error) }),
  );
});
process.on('disconnect', () => {
  fs.rmSync(dataDir, { recursive: true, force: true });
  process.exit(0);
});
process.send?.({ ready: true, url });
