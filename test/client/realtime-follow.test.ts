import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { SocialClient } from '../../src/apps/social/client';
import { RealtimeClient, RealtimeError, type Follow, type FollowOptions, type StreamPosition } from '../../src/client/index';
import { registerUser, startServer, type TestServer } from '../support/server';
import { until } from '../support/wait';
import { accept, FakeSocket, latest } from './fake-socket';
import { Clients, RECONNECT_MS, roomyLimits } from './realtime-support';

/**
 * `realtime.follow()`, the snapshot handoff: load over REST, subscribe from the snapshot's
 * position, reload on resync while holding live changes. First with a scripted server and fake
 * timers (every interleaving on purpose), then once against a real server.
 */

interface Page {
  items: number[];
  channel?: string;
  position: StreamPosition | undefined;
}

interface Deferred<T> {
  promise: Promise<T>;
  resolve(value: T): void;
  reject(error: unknown): void;
}

function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** A connected client (scripted socket) and a follower whose loads the test answers one by one. */
async function following(options: Partial<FollowOptions<Page>> = {}) {
  const tokens = { getFresh: async () => 'token', refreshAfterRejection: async () => 'token', onChange: () => () => {} };
  const client = new RealtimeClient({ url: 'ws://test/realtime', tokens, WebSocket: FakeSocket, fetch: null, random: () => 0.5, heartbeatIntervalMs: 60_000 });
  const loads: Array<Deferred<Page>> = [];
  const seen = { snapshots: [] as number[][], messages: [] as Array<number | string>, failures: [] as unknown[] };
  const follow: Follow = client.follow<Page>({
    load: () => {
      const load = deferred<Page>();
      loads.push(load);
      return load.promise;
    },
    snapshot: (page) => seen.snapshots.push(page.items),
    message: (m) => seen.messages.push(m.offset ?? m.event),
    failed: (error) => seen.failures.push(error),
    ...options,
  });
  client.connect();
  await accept();
  return { client, follow, loads, seen };
}

const pub = (o: number, ch = 'post:1') => ({ t: 'pub', ch, o, ev: 'comment.created', d: { id: o } });
const typing = (ch = 'post:1') => ({ t: 'pub', ch, ev: 'typing', d: { on: true } });

/** Answers the latest `sub` with a SubscribeResult. */
function answerSubscribe(result: object): void {
  const sub = latest().last('sub')!;
  latest().receive({ t: 'ack', id: sub.id, d: result });
}

/** Starts a follower on post:1 from e1/5 and lets its subscription go live. */
async function live(options: Partial<FollowOptions<Page>> = {}) {
  const handle = await following(options);
  const started = handle.follow.start();
  handle.loads[0]!.resolve({ items: [1, 2], channel: 'post:1', position: { e: 'e1', o: 5 } });
  expect(await started).toBe(true);
  answerSubscribe({ e: 'e1', o: 5, rec: true, pubs: [] });
  return handle;
}

describe('follow() with a scripted server', () => {
  beforeEach(() => {
    vi.useFakeTimers();
    FakeSocket.instances = [];
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("loads first, then subscribes to the snapshot's channel from its position; later changes and ephemeral events are applied", async () => {
    const { client, follow, loads, seen } = await following();
    const started = follow.start();
    expect(follow.start()).toBe(started);
    expect(follow.state).toBe('loading');
    expect(latest().last('sub')).toBeUndefined();
    loads[0]!.resolve({ items: [1, 2], channel: 'post:1', position: { e: 'e1', o: 5 } });
    expect(await started).toBe(true);
    expect(follow.channel).toBe('post:1');
    expect(seen.snapshots).toEqual([[1, 2]]);
    expect(latest().last('sub')).toMatchObject({ ch: 'post:1', since: { e: 'e1', o: 5 } });

    answerSubscribe({ e: 'e1', o: 6, rec: true, pubs: [pub(6)] });
    latest().receive(pub(6), typing(), pub(7));
    expect(seen.messages).toEqual([6, 'typing', 7]);
    expect(follow.state).toBe('live');
    expect(follow.subscription).toBe(client.subscription('post:1'));
    expect(loads).toHaveLength(1);
    client.disconnect();
  });

  it("an explicit channel overrides the snapshot's; a snapshot without a position subscribes from now", async () => {
    const { client, follow, loads } = await following({ channel: 'feed' });
    const started = follow.start();
    loads[0]!.resolve({ items: [], channel: 'post:9', position: undefined });
    expect(await started).toBe(true);
    const sub = latest().last('sub')!;
    expect(sub).toEqual({ t: 'sub', id: sub.id, ch: 'feed' });
    client.disconnect();
  });

  it('on resync it reloads, holding live publications, then applies only those above the new snapshot', async () => {
    const { client, follow, loads, seen } = await following();
    const started = follow.start();
    loads[0]!.resolve({ items: [1], channel: 'post:1', position: { e: 'e1', o: 5 } });
    await started;
    answerSubscribe({ e: 'e2', o: 10, rec: false, why: 'epoch_changed' });
    expect(follow.state).toBe('reloading');
    expect(loads).toHaveLength(2);

    latest().receive(pub(11), typing(), pub(12));
    expect(seen.messages).toEqual(['typing']);
    loads[1]!.resolve({ items: [1, 11], channel: 'post:1', position: { e: 'e2', o: 11 } });
    await vi.advanceTimersByTimeAsync(0);
    expect(seen.snapshots).toEqual([[1], [1, 11]]);
    expect(seen.messages).toEqual(['typing', 12]);
    expect(follow.state).toBe('live');

    latest().receive(pub(13));
    expect(seen.messages).toEqual(['typing', 12, 13]);
    client.disconnect();
  });

  it('drops publications at or below the last snapshot, also when the reload was asked for by the app', async () => {
    const { client, follow, loads, seen } = await live();
    latest().receive(pub(6));
    follow.reload();
    latest().receive(pub(7), pub(8));
    loads[1]!.resolve({ items: [1, 2, 6, 7], channel: 'post:1', position: { e: 'e1', o: 7 } });
    await vi.advanceTimersByTimeAsync(0);
    expect(seen.messages).toEqual([6, 8]);
    client.disconnect();
  });

  it('retries a failed reload with backoff, still holding, until one succeeds', async () => {
    const { client, follow, loads, seen } = await live();
    follow.reload();
    loads[1]!.reject(new Error('offline'));
    await vi.advanceTimersByTimeAsync(0);
    latest().receive(pub(6));
    expect(seen.messages).toEqual([]);

    // Full jitter with random() = 0.5: 500 ms (of a 1 s ceiling), then 1 s (of 2 s).
    await vi.advanceTimersByTimeAsync(499);
    expect(loads).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(1);
    expect(loads).toHaveLength(3);
    loads[2]!.reject(new Error('offline'));
    await vi.advanceTimersByTimeAsync(999);
    expect(loads).toHaveLength(3);
    await vi.advanceTimersByTimeAsync(1);
    expect(loads).toHaveLength(4);
    expect(follow.state).toBe('reloading');

    loads[3]!.resolve({ items: [1, 2], channel: 'post:1', position: { e: 'e1', o: 5 } });
    await vi.advanceTimersByTimeAsync(0);
    expect(seen.messages).toEqual([6]);
    expect(seen.failures).toEqual([]);
    expect(follow.state).toBe('live');
    client.disconnect();
  });

  it('reports a failed first load and resolves false, without retrying; start() may be called again', async () => {
    const { client, follow, loads, seen } = await following();
    const down = new Error('down');
    const first = follow.start();
    loads[0]!.reject(down);
    expect(await first).toBe(false);
    expect(seen.failures).toEqual([down]);
    expect(follow.state).toBe('idle');
    await vi.advanceTimersByTimeAsync(60_000);
    expect(loads).toHaveLength(1);
    expect(latest().last('sub')).toBeUndefined();

    const second = follow.start();
    loads[1]!.resolve({ items: [3], channel: 'post:1', position: { e: 'e1', o: 3 } });
    expect(await second).toBe(true);
    expect(latest().last('sub')).toMatchObject({ ch: 'post:1', since: { e: 'e1', o: 3 } });
    client.disconnect();
  });

  it('reports a refused subscription', async () => {
    const { client, follow, loads, seen } = await following();
    const started = follow.start();
    loads[0]!.resolve({ items: [], channel: 'conversation:7', position: { e: 'e1', o: 0 } });
    await started;
    const sub = latest().last('sub')!;
    latest().receive({ t: 'err', id: sub.id, c: 'forbidden', m: 'Not a member' });
    expect(seen.failures).toHaveLength(1);
    expect(seen.failures[0]).toBeInstanceOf(RealtimeError);
    expect(seen.failures[0]).toMatchObject({ code: 'forbidden' });
    client.disconnect();
  });

  it('fails with no_channel when neither the option nor the snapshot names a channel', async () => {
    const { client, follow, loads, seen } = await following();
    const started = follow.start();
    loads[0]!.resolve({ items: [], position: undefined });
    expect(await started).toBe(false);
    expect(seen.failures[0]).toMatchObject({ code: 'no_channel' });
    expect(seen.snapshots).toEqual([]);
    client.disconnect();
  });

  it('stop() unsubscribes and drops the reload on its way and its retries', async () => {
    const { client, follow, loads, seen } = await live();
    follow.reload();
    loads[1]!.reject(new Error('offline'));
    await vi.advanceTimersByTimeAsync(0);
    follow.stop();
    expect(follow.state).toBe('stopped');
    expect(latest().last('unsub')).toMatchObject({ ch: 'post:1' });
    await vi.advanceTimersByTimeAsync(60_000);
    expect(loads).toHaveLength(2);
    expect(seen.snapshots).toHaveLength(1);
    expect(await follow.start()).toBe(false);
    follow.stop();

    // A load answering after stop() is dropped too.
    const other = await live();
    other.follow.reload();
    other.follow.stop();
    other.loads[1]!.resolve({ items: [9], channel: 'post:1', position: { e: 'e1', o: 9 } });
    await vi.advanceTimersByTimeAsync(0);
    expect(other.seen.snapshots).toEqual([[1, 2]]);
    client.disconnect();
    other.client.disconnect();
  });
});

describe('follow() against a real server', () => {
  let server: TestServer;
  const clients = new Clients();
  beforeAll(async () => {
    server = await startServer({ realtimeLimits: roomyLimits, realtimeTickMs: 20 });
  });
  afterEach(() => clients.closeAll());
  afterAll(() => server.close());

  it('hands off from a list to its channel: a stale snapshot resyncs and reloads, and each post arrives once', async () => {
    const alice = await registerUser(server);
    const api = new SocialClient({ baseUrl: server.url });
    await api.login({ username: alice.username, password: alice.password });
    const before = await api.createPost({ body: 'before the follow' });
    const { client } = clients.create(server, alice);
    client.connect();

    let loads = 0;
    let shown: number[] = [];
    const applied: number[] = [];
    const feed = client.follow({
      load: async () => {
        loads += 1;
        const page = await api.listPosts({ limit: 100 });
        // The first snapshot claims an epoch the server no longer has (as after a restart).
        return loads === 1 ? { ...page, position: { e: 'gone', o: page.position!.o } } : page;
      },
      snapshot: (page) => {
        shown = page.items.map((p) => p.id);
      },
      message: (m) => {
        if (m.event === 'post.created') applied.push((m.data as { id: number }).id);
      },
    });
    expect(await feed.start()).toBe(true);
    expect(feed.channel).toBe('feed');
    await until(() => loads === 2 && feed.state === 'live', 'the reload after the resync', RECONNECT_MS);
    expect(shown).toEqual([before.id]);

    const after = await api.createPost({ body: 'after the follow' });
    await until(() => applied.includes(after.id), 'the post made after the snapshot', RECONNECT_MS);
    expect(applied).toEqual([after.id]);
    feed.stop();
    expect(client.subscription('feed')).toBeUndefined();
  });
});
