import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Fastify from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { RealtimeClient, TandemClientError, type RealtimeMessage } from 'tandem/client';
import { createServer, fastifyOptions, loadConfig, tandem, type TandemServer } from 'tandem/server';
import { pollsApp } from './app';
import { until } from '../../test/support/wait';
import { PollsClient, withTally, type Poll, type Tally } from './client';

/**
 * The polls example against a real server on port 0, with real clients (the SDK's RestClient core
 * and RealtimeClient over `ws`). Nothing here reaches past tandem/server and tandem/client (but
 * the repository's one wait helper).
 */

const dirs: string[] = [];
function configFor(env: Record<string, string> = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tandem-polls-'));
  dirs.push(dir);
  return loadConfig({ TANDEM_DATA_DIR: dir, LOG_LEVEL: 'silent', TANDEM_LOGIN_LIMIT_IP: '10000', TANDEM_PRESENCE_GRACE_MS: '100', POLLS_TALLY_INTERVAL_MS: '100', ...env }, pollsApp.settings);
}

let server: TandemServer<never, never>;
let url: string;
let counter = 0;
const realtimes: RealtimeClient[] = [];

beforeAll(async () => {
  const polls = await createServer({ app: pollsApp, config: configFor(), logger: false });
  server = polls as unknown as TandemServer<never, never>;
  url = await polls.listen({ port: 0, host: '127.0.0.1' });
});
afterAll(async () => {
  for (const realtime of realtimes) realtime.disconnect();
  await server?.close();
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
});

const usernames = new WeakMap<PollsClient, string>();

async function signedUp(name = 'user'): Promise<PollsClient> {
  const client = new PollsClient({ baseUrl: url });
  counter += 1;
  const session = await client.register({ username: `${name}${counter}_${process.pid % 1000}`, password: 'correct horse battery' });
  usernames.set(client, (session.user as { username: string }).username);
  return client;
}

function realtimeFor(client: PollsClient): RealtimeClient {
  const realtime = new RealtimeClient({ url: `${url.replace('http', 'ws')}/realtime`, tokens: client.tokens, WebSocket: WebSocket as never });
  realtimes.push(realtime);
  realtime.connect();
  return realtime;
}

async function problemCode(promise: Promise<unknown>): Promise<{ code: string; status: number | undefined; title: string | undefined }> {
  const error = await promise.then(() => undefined, (e: unknown) => e);
  if (!(error instanceof TandemClientError)) throw new Error(`expected a TandemClientError, got ${String(error)}`);
  return { code: error.code, status: error.status, title: error.problem?.title };
}

describe('REST: creates, cached reads, conditional edits', () => {
  it('opens a poll once however often the create is retried with the same Idempotency-Key', async () => {
    const ann = await signedUp('ann');
    const input = { question: 'Tea or coffee?', options: ['tea', 'coffee'] };
    const first = await ann.request<Poll>({ method: 'POST', path: '/api/polls', body: input, create: true, idempotencyKey: 'poll-create-0001' });
    const retry = await ann.request<Poll>({ method: 'POST', path: '/api/polls', body: input, create: true, idempotencyKey: 'poll-create-0001' });
    expect(first.status).toBe(201);
    expect(retry.body.id).toBe(first.body.id);
    expect(retry.headers.get('idempotent-replayed')).toBe('true');
    expect((await ann.listPolls()).items.filter((p) => p.question === 'Tea or coffee?')).toHaveLength(1);
  });

  it('serves a poll with a strong ETag, revalidates with a 304, and tells where to follow it from', async () => {
    const ann = await signedUp('ann');
    const poll = await ann.openPoll({ question: 'Cats or dogs?', options: ['cats', 'dogs'] });
    const reader = new PollsClient({ baseUrl: url });
    const first = await reader.readPoll(poll.id);
    expect(first.etag).toBe(`"poll.${poll.id}.v1"`);
    expect(first.headers.get('cache-control')).toContain('public');
    expect(first.channel).toBe(`poll:${poll.id}`);
    expect(first.position).toMatchObject({ o: 0 });
    const again = await reader.readPoll(poll.id);
    expect(again.notModified).toBe(true);
    expect(again.body).toEqual(first.body);
  });

  it('edits need the current ETag: a stale If-Match is 412 and changes nothing; only the author may edit', async () => {
    const ann = await signedUp('ann');
    const bob = await signedUp('bob');
    const poll = await ann.openPoll({ question: 'Beach or mountains?', options: ['beach', 'mountains'] });
    const read = await ann.readPoll(poll.id);
    const edited = await ann.editPoll(poll.id, { question: 'Beach, or mountains?' }, { ifMatch: read.etag! });
    expect(edited.version).toBe(2);
    expect(await problemCode(ann.editPoll(poll.id, { question: 'Lost update' }, { ifMatch: read.etag! }))).toMatchObject({ code: 'precondition_failed', status: 412 });
    expect(await problemCode(bob.editPoll(poll.id, { closed: true }))).toMatchObject({ code: 'forbidden', status: 403 });
    expect((await ann.readPoll(poll.id)).body.question).toBe('Beach, or mountains?');
  });
});

describe('votes', () => {
  it('are idempotent: the same vote twice counts once, another option moves it, a withdrawal removes it', async () => {
    const ann = await signedUp('ann');
    const poll = await ann.openPoll({ question: 'Red or blue?', options: ['red', 'blue'] });
    const [red, blue] = poll.options;
    await ann.vote(poll.id, red!.id);
    await ann.vote(poll.id, red!.id);
    expect((await ann.readPoll(poll.id)).body.options.map((o) => o.votes)).toEqual([1, 0]);
    await ann.vote(poll.id, blue!.id);
    expect((await ann.readPoll(poll.id)).body.options.map((o) => o.votes)).toEqual([0, 1]);
    await ann.withdrawVote(poll.id);
    await ann.withdrawVote(poll.id);
    expect((await ann.readPoll(poll.id)).body.totalVotes).toBe(0);
  });

  it('answer the app\'s own error codes as problem+json: poll_closed (409) and unknown_option (422)', async () => {
    const ann = await signedUp('ann');
    const poll = await ann.openPoll({ question: 'Now or later?', options: ['now', 'later'] });
    expect(await problemCode(ann.vote(poll.id, 999_999))).toEqual({ code: 'unknown_option', status: 422, title: 'The poll has no such option' });
    await ann.editPoll(poll.id, { closed: true });
    expect(await problemCode(ann.vote(poll.id, poll.options[0]!.id))).toEqual({ code: 'poll_closed', status: 409, title: 'The poll is closed; it takes no more votes' });
    expect((await ann.readPoll(poll.id)).body.totalVotes).toBe(0);
  });
});

describe('live tallies', () => {
  it('reach a follower coalesced: a burst of 60 vote changes arrives as a few tallies, the last one exact', async () => {
    const ann = await signedUp('ann');
    const poll = await ann.openPoll({ question: 'Left or right?', options: ['left', 'right'] });
    const voters = await Promise.all(Array.from({ length: 10 }, () => signedUp('voter')));
    const watcher = await signedUp('watcher');
    const realtime = realtimeFor(watcher);
    let shown: Poll | undefined;
    const tallies: Tally[] = [];
    const follow = realtime.follow({
      load: () => watcher.readPoll(poll.id).then((read) => ({ ...read, poll: read.body })),
      snapshot: (state) => void (shown = state.poll),
      message: (message: RealtimeMessage) => {
        if (message.event !== 'poll.tally') return;
        tallies.push(message.data as Tally);
        shown = withTally(shown!, message.data as Tally);
      },
    });
    expect(await follow.start()).toBe(true);
    await until(() => follow.state === 'live' && follow.subscription?.state === 'live', 'the follower to be live');
    const [left, right] = poll.options;
    // Ten voters change their minds six times each, all at once.
    await Promise.all(voters.map(async (voter, i) => {
      for (let round = 0; round < 6; round += 1) await voter.vote(poll.id, (i + round) % 2 === 0 ? left!.id : right!.id);
    }));
    const final = (await watcher.readPoll(poll.id)).body;
    await until(() => shown?.version === final.version, 'the last tally');
    expect(shown!.options.map((o) => o.votes)).toEqual(final.options.map((o) => o.votes));
    expect(final.totalVotes).toBe(10);
    expect(tallies.length).toBeGreaterThan(0);
    expect(tallies.length).toBeLessThanOrEqual(60 / 4);
    follow.stop();
  });

  it('shows who is watching a poll (presence per user), and not after they leave', async () => {
    const ann = await signedUp('ann');
    const poll = await ann.openPoll({ question: 'Who is here?', options: ['me', 'not me'] });
    const alice = await signedUp('alice');
    const bob = await signedUp('bob');
    const aliceLive = realtimeFor(alice);
    const watching = aliceLive.subscribe(`poll:${poll.id}`, () => {});
    const bobLive = realtimeFor(bob);
    const bobWatching = bobLive.subscribe(`poll:${poll.id}`, () => {});
    await until(() => watching.presence.users?.length === 2, 'both watchers in presence');
    bobWatching.unsubscribe();
    await until(() => watching.presence.users?.length === 1, 'bob gone after the grace period');
    expect(watching.presence.users?.map((u) => u.n)).toEqual([usernames.get(alice)]);
  });

  it('refuses to follow a poll that does not exist (forbidden: existence is the policy\'s to tell)', async () => {
    const carol = await signedUp('carol');
    const realtime = realtimeFor(carol);
    const subscription = realtime.subscribe('poll:987654', () => {});
    const error = await new Promise<{ code: string }>((resolve) => subscription.on('error', resolve));
    expect(error.code).toBe('forbidden');
  });
});

describe('the public API', () => {
  it('lists the app\'s error codes with the library\'s in the OpenAPI document', async () => {
    const document = (await (await fetch(`${url}/api/openapi.json`)).json()) as { components: { schemas: { Problem: { properties: { code: { enum: string[] } } } } } };
    const codes = document.components.schemas.Problem.properties.code.enum;
    expect(codes).toContain('poll_closed');
    expect(codes).toContain('unknown_option');
    expect(codes).toContain('precondition_failed');
  });

  it('mounts on a Fastify app the user owns, next to its own routes, and drains with it', async () => {
    const config = configFor();
    const own = Fastify(fastifyOptions(config, false));
    own.get('/hello', async () => ({ hello: 'world' }));
    await own.register(tandem, { app: pollsApp, config });
    await own.listen({ port: 0, host: '127.0.0.1' });
    const address = own.server.address();
    const base = `http://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}`;
    try {
      const hello = await fetch(`${base}/hello`);
      expect(await hello.json()).toEqual({ hello: 'world' });
      // The plugin's conventions apply to the whole app, as @fastify/helmet's would.
      expect(hello.headers.get('x-request-id')).toBeTruthy();
      expect(hello.headers.get('x-content-type-options')).toBe('nosniff');
      const client = new PollsClient({ baseUrl: base });
      await client.register({ username: `owner${process.pid % 1000}`, password: 'correct horse battery' });
      const poll = await client.openPoll({ question: 'Mounted?', options: ['yes', 'no'] });
      expect((await client.readPoll(poll.id)).channel).toBe(`poll:${poll.id}`);
      const missing = await fetch(`${base}/api/nothing`);
      expect(missing.status).toBe(404);
      expect(missing.headers.get('content-type')).toContain('application/problem+json');
    } finally {
      await own.close();
    }
    expect((await fetch(`${base}/hello`).catch(() => undefined))?.status).toBeUndefined();
  });
});
