import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { MemoryBroker } from '../../src/server/broker';
import { TestSocket, type Frame } from '../support/realtime';
import { registerUser, startServer, type TestServer, type TestUser } from '../support/server';
import { sleep, until } from '../support/wait';
import { singleNode } from '../support/target';

/**
 * Recovery over real sockets: a client that loses its connection while REST writes keep
 * committing reconnects, subscribes with `since` and gets exactly what it missed (then the live
 * stream, without a gap or a duplicate); and each documented `rec: false` reason.
 */

/** Handshakes are not what these tests are about: lift the per-IP admission limits. */
const limits = { handshakesPerIpPerSecond: 10_000, newConnectionsPerSecond: 10_000, maxConnectionsPerIp: 10_000, maxConnectionsPerUser: 1_000 };

interface Comment { id: number; postId: number }
interface SubscribeAck { e: string; o: number; rec?: boolean; why?: string; pubs?: Frame[]; pres?: unknown }

const sockets = new Set<TestSocket>();
afterEach(() => {
  for (const socket of sockets) socket.close();
  sockets.clear();
});

async function connect(server: { url: string }, user: TestUser): Promise<TestSocket> {
  const socket = await TestSocket.connect(server as TestServer, user.accessToken);
  sockets.add(socket);
  return socket;
}

/** Subscribes and returns the SubscribeResult; fails the test on an err. */
async function subscribe(socket: TestSocket, ch: string, since?: { e: string; o: number }): Promise<SubscribeAck> {
  const answer = await socket.request(since === undefined ? { t: 'sub', ch } : { t: 'sub', ch, since });
  if (answer.t !== 'ack') throw new Error(`sub ${ch} refused: ${JSON.stringify(answer)}`);
  return answer.d as SubscribeAck;
}

async function createPost(server: TestServer, user: TestUser, body = 'a post'): Promise<{ id: number }> {
  const res = await server.request('/api/posts', { method: 'POST', token: user.accessToken, json: { body } });
  expect(res.status).toBe(201);
  return (await res.json()) as { id: number };
}

async function comment(server: { request: TestServer['request'] }, user: TestUser, postId: number, body: string): Promise<Comment> {
  const res = await server.request(`/api/posts/${postId}/comments`, { method: 'POST', token: user.accessToken, json: { body } });
  if (res.status !== 201) throw new Error(`comment failed: ${res.status} ${await res.text()}`);
  return (await res.json()) as Comment;
}

/**
 * Creates `count` comments with up to `parallel` requests in flight at once (not awaited one by
 * one), pausing `gapMs` between starts so the writes spread over the test.
 */
function writeComments(server: TestServer, user: TestUser, postId: number, count: number, parallel: number, gapMs: number): { done: Promise<Comment[]>; written: () => number } {
  const created: Comment[] = [];
  let started = 0;
  const worker = async () => {
    while (started < count) {
      started += 1;
      created.push(await comment(server, user, postId, `c${started}`));
      if (gapMs > 0) await sleep(Math.random() * gapMs * 2);
    }
  };
  const done = Promise.all(Array.from({ length: parallel }, worker)).then(() => created);
  // Awaited by every test that gets that far; a test failing earlier must not add an unhandled rejection.
  done.catch(() => {});
  return { done, written: () => created.length };
}

function offsets(frames: readonly Frame[]): number[] {
  return frames.map((f) => f.o as number);
}

function range(from: number, to: number): number[] {
  return Array.from({ length: Math.max(0, to - from + 1) }, (_, i) => from + i);
}

let server: TestServer;
let alice: TestUser;
let bob: TestUser;

beforeAll(async () => {
  server = await startServer({ realtimeLimits: limits, realtimeTickMs: 20 });
  alice = await registerUser(server);
  bob = await registerUser(server);
});
afterAll(() => server.close());

/**
 * Five times at random points: pull the plug on the reader mid-stream, let writes continue,
 * reconnect and subscribe with the last position seen. Each answer must replay exactly what was
 * missed, and the whole session (six connections) must see 1..total once each, in order.
 */
async function reconnectLoop(): Promise<void> {
  const post = await createPost(server, alice);
  const channel = `post:${post.id}`;
  let socket = await connect(server, bob);
  const first = await subscribe(socket, channel);
  expect(first.rec).toBeUndefined();
  expect(first.o).toBe(0);
  const epoch = first.e;

  /** Every publication the client processed, in order, across all its connections. */
  const seen: Frame[] = [...(first.pubs ?? [])];
  /** How many of the current socket's frames were already copied into `seen`. */
  let consumed = socket.frames.length;
  const drain = () => {
    const fresh = socket.frames.slice(consumed);
    consumed = socket.frames.length;
    for (const frame of fresh) if (frame.t === 'pub' && frame.ch === channel) seen.push(frame);
  };
  const last = () => (seen.length === 0 ? first.o : (seen[seen.length - 1]!.o as number));

  const total = 120;
  const writer = writeComments(server, alice, post.id, total, 4, 8);
  for (let round = 0; round < 5; round += 1) {
    // Let a random number of publications arrive live, then pull the plug mid-stream.
    const target = last() + 3 + Math.floor(Math.random() * 10);
    await until(() => (drain(), last() >= target || writer.written() >= total), `offset ${target}`);
    drain();
    const position = { e: epoch, o: last() };
    socket.ws.terminate();
    sockets.delete(socket);
    // Writes continue while the client is away.
    const away = writer.written() + 2 + Math.floor(Math.random() * 6);
    await until(() => writer.written() >= Math.min(away, total), 'writes while away');
    const committed = writer.written();
    socket = await connect(server, bob);
    consumed = 0;
    const answer = await subscribe(socket, channel, position);
    expect(answer, JSON.stringify(answer)).toMatchObject({ e: epoch, rec: true });
    expect(answer.why).toBeUndefined();
    const replay = answer.pubs ?? [];
    // Exactly the missed publications, in order, ending where the answer says we are.
    expect(offsets(replay)).toEqual(range(position.o + 1, answer.o));
    // Something was missed, unless the writer had finished before this round (then the answer is where we were).
    if (committed > position.o) expect(answer.o).toBeGreaterThan(position.o);
    for (const pub of replay) expect(pub).toMatchObject({ t: 'pub', ch: channel, ev: 'comment.created' });
    seen.push(...replay);
  }

  const created = await writer.done;
  expect(created).toHaveLength(total);
  await until(() => (drain(), last() >= total), `all ${total} publications`);
  await sleep(50);
  drain();
  // The whole session, over six connections: 1..total, each exactly once, in order.
  expect(offsets(seen)).toEqual(range(1, total));
  const ids = seen.map((f) => (f.d as Comment).id);
  expect(new Set(ids).size).toBe(total);
  expect([...ids].sort((a, b) => a - b)).toEqual(created.map((c) => c.id).sort((a, b) => a - b));
  expect(new Set(seen.map((f) => (f.d as Comment).postId))).toEqual(new Set([post.id]));
}

describe('recovery after a lost connection', () => {
  it('replays exactly the missed comments at every reconnect while writes keep flowing', reconnectLoop);

  it('recovers the feed too, with an empty replay when nothing was missed', async () => {
    let socket = await connect(server, bob);
    const first = await subscribe(socket, 'feed');
    const posts = await Promise.all([createPost(server, alice, 'f1'), createPost(server, alice, 'f2')]);
    await until(() => socket.publications('feed').length >= 2, 'two feed publications');
    const received = socket.publications('feed');
    expect(offsets(received)).toEqual(range(first.o + 1, first.o + 2));
    expect(received.map((f) => (f.d as { id: number }).id).sort()).toEqual(posts.map((p) => p.id).sort());
    const position = { e: first.e, o: received[1]!.o as number };
    socket.ws.terminate();

    socket = await connect(server, bob);
    const nothingMissed = await subscribe(socket, 'feed', position);
    expect(nothingMissed).toEqual({ e: first.e, o: position.o, rec: true, pubs: [] });
    await socket.request({ t: 'unsub', ch: 'feed' });
    const third = await createPost(server, alice, 'f3');
    const again = await subscribe(socket, 'feed', position);
    expect(again.rec).toBe(true);
    expect(again.pubs!.map((f) => [f.o, (f.d as { id: number }).id])).toEqual([[position.o + 1, third.id]]);
  });
});

describe('rec: false, with the position to continue from', () => {
  it('epoch_changed for a foreign epoch; never_positioned beyond the current offset', async () => {
    const post = await createPost(server, alice);
    const channel = `post:${post.id}`;
    await comment(server, alice, post.id, 'one');
    await comment(server, alice, post.id, 'two');
    const socket = await connect(server, bob);
    const current = await subscribe(socket, channel);
    expect(current.o).toBe(2);
    await socket.request({ t: 'unsub', ch: channel });

    const foreign = await subscribe(socket, channel, { e: `${current.e}x`, o: 1 });
    expect(foreign).toEqual({ e: current.e, o: 2, rec: false, why: 'epoch_changed' });
    await socket.request({ t: 'unsub', ch: channel });

    const ahead = await subscribe(socket, channel, { e: current.e, o: 3 });
    expect(ahead).toEqual({ e: current.e, o: 2, rec: false, why: 'never_positioned' });
    // Continuing from the answer's position works: the next comment arrives live as offset 3.
    await comment(server, alice, post.id, 'three');
    const live = await until(() => socket.publications(channel)[0], 'the live comment');
    expect(live).toMatchObject({ o: 3, ev: 'comment.created', d: { body: 'three' } });
    await socket.request({ t: 'unsub', ch: channel });
    const from = await subscribe(socket, channel, { e: ahead.e, o: ahead.o });
    expect(from).toMatchObject({ e: current.e, o: 3, rec: true });
    expect(offsets(from.pubs!)).toEqual([3]);
  });

  it('history_trimmed when more was missed than the channel keeps (TANDEM_HISTORY_SIZE=3)', async () => {
    const small = await startServer({ env: { TANDEM_HISTORY_SIZE: '3' }, realtimeLimits: limits });
    try {
      const writer = await registerUser(small);
      const reader = await registerUser(small);
      const post = await createPost(small, writer);
      const channel = `post:${post.id}`;
      let socket = await connect(small, reader);
      const first = await subscribe(socket, channel);
      await comment(small, writer, post.id, 'seen');
      const seen = await until(() => socket.publications(channel)[0], 'the first comment');
      socket.ws.terminate();
      for (let i = 0; i < 10; i += 1) await comment(small, writer, post.id, `missed ${i}`);

      socket = await connect(small, reader);
      const answer = await subscribe(socket, channel, { e: first.e, o: seen.o as number });
      expect(answer).toEqual({ e: first.e, o: 11, rec: false, why: 'history_trimmed' });
      // What is still kept can be recovered: the last three.
      await socket.request({ t: 'unsub', ch: channel });
      const recent = await subscribe(socket, channel, { e: first.e, o: 8 });
      expect(recent.rec).toBe(true);
      expect(offsets(recent.pubs!)).toEqual([9, 10, 11]);
      await socket.request({ t: 'unsub', ch: channel });
      expect((await subscribe(socket, channel, { e: first.e, o: 7 })).why).toBe('history_trimmed');
    } finally {
      for (const socket of sockets) socket.close();
      await small.close();
    }
  });

  it('history_trimmed once what was missed is older than TANDEM_HISTORY_AGE_MS', async () => {
    let skewMs = 0;
    // Long enough that the writes and subscribes below fit in it however slow the server; the test moves past it.
    const short = await startServer({ env: { TANDEM_HISTORY_AGE_MS: '2000' }, realtimeLimits: limits, clock: () => Date.now() + skewMs });
    try {
      const writer = await registerUser(short);
      const reader = await registerUser(short);
      const post = await createPost(short, writer);
      const channel = `post:${post.id}`;
      const socket = await connect(short, reader);
      const { e } = await subscribe(socket, channel);
      await socket.request({ t: 'unsub', ch: channel });
      await comment(short, writer, post.id, 'one');
      await comment(short, writer, post.id, 'two');
      const fresh = await subscribe(socket, channel, { e, o: 0 });
      expect(fresh.rec).toBe(true);
      expect(offsets(fresh.pubs!)).toEqual([1, 2]);
      await socket.request({ t: 'unsub', ch: channel });
      // The history ages on the server's clock.
      skewMs += 3_000;
      expect(await subscribe(socket, channel, { e, o: 0 })).toEqual({ e, o: 2, rec: false, why: 'history_trimmed' });
      await socket.request({ t: 'unsub', ch: channel });
      // Positioned at the newest offset, nothing was missed: still a recovery.
      expect(await subscribe(socket, channel, { e, o: 2 })).toEqual({ e, o: 2, rec: true, pubs: [] });
    } finally {
      for (const socket of sockets) socket.close();
      await short.close();
    }
  });

  it('too_many_missed when more was missed than one answer replays (500), though history has it', async () => {
    const post = await createPost(server, alice);
    const channel = `post:${post.id}`;
    const socket = await connect(server, bob);
    const { e } = await subscribe(socket, channel);
    socket.ws.terminate();
    await writeComments(server, alice, post.id, 501, 6, 0).done;

    const again = await connect(server, bob);
    expect(await subscribe(again, channel, { e, o: 0 })).toEqual({ e, o: 501, rec: false, why: 'too_many_missed' });
    await again.request({ t: 'unsub', ch: channel });
    // 500 is still replayed in one answer, in order.
    const most = await subscribe(again, channel, { e, o: 1 });
    expect(most.rec).toBe(true);
    expect(offsets(most.pubs!)).toEqual(range(2, 501));
  }, 30_000);
});

/** A server on a data folder the test owns, so a second one can start on the same store. */
function startOn(dataDir: string): Promise<TestServer> {
  return startServer({ dataDir, realtimeLimits: limits });
}

singleNode('restarts one process on its SQLite file; a cluster keeps the history in Redis').describe('across a server restart', () => {
  it('answers epoch_changed at the same offset, and the cached REST list revalidates with a 304', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tandem-restart-'));
    let running: Awaited<ReturnType<typeof startOn>> | undefined;
    try {
      running = await startOn(dataDir);
      const writer = await registerUser(running as unknown as TestServer);
      const reader = await registerUser(running as unknown as TestServer);
      const created = await running.request('/api/posts', { method: 'POST', token: writer.accessToken, json: { body: 'before the restart' } });
      const post = (await created.json()) as { id: number };
      const channel = `post:${post.id}`;
      for (let i = 0; i < 3; i += 1) await comment(running, writer, post.id, `c${i}`);

      const list = await running.request(`/api/posts/${post.id}/comments`);
      expect(list.status).toBe(200);
      const etag = list.headers.get('etag');
      expect(etag).toBeTruthy();
      expect(list.headers.get('tandem-channel')).toBe(channel);
      const position = Number(list.headers.get('tandem-position'));
      expect(position).toBe(3);
      const cached = (await list.json()) as { items: Comment[] };
      expect(cached.items).toHaveLength(3);

      const socket = await connect(running, reader);
      const before = await subscribe(socket, channel, { e: 'whatever', o: position });
      expect(before.o).toBe(position);
      const oldEpoch = before.e;
      await running.close();
      running = undefined;
      expect((await socket.whenClosed()).code).toBe(1012);

      running = await startOn(dataDir);
      const revalidated = await running.request(`/api/posts/${post.id}/comments`, { headers: { 'if-none-match': etag! } });
      expect(revalidated.status).toBe(304);
      expect(revalidated.headers.get('tandem-position')).toBe(String(position));

      const again = await connect(running, reader);
      const answer = await subscribe(again, channel, { e: oldEpoch, o: position });
      expect(answer.rec).toBe(false);
      expect(answer.why).toBe('epoch_changed');
      expect(answer.e).not.toBe(oldEpoch);
      expect(answer.o).toBe(position);
      expect(answer.pubs).toBeUndefined();

      // Continuing from the new position: the next comment is live offset 4, and recoverable.
      await comment(running, writer, post.id, 'after the restart');
      const live = await until(() => again.publications(channel)[0], 'the live comment');
      expect(live).toMatchObject({ o: position + 1, d: { body: 'after the restart' } });
      again.ws.terminate();
      const third = await connect(running, reader);
      const recovered = await subscribe(third, channel, { e: answer.e, o: answer.o });
      expect(recovered).toMatchObject({ e: answer.e, o: position + 1, rec: true });
      expect(offsets(recovered.pubs!)).toEqual([position + 1]);
      // And now the list's ETag moved on: the cached copy is stale.
      const stale = await running.request(`/api/posts/${post.id}/comments`, { headers: { 'if-none-match': etag! } });
      expect(stale.status).toBe(200);
    } finally {
      for (const socket of sockets) socket.close();
      await running?.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

/**
 * While comments are written continuously, readers GET the list at various points, then
 * subscribe from the position it reported: list + publications must be every comment once.
 */
async function snapshotHandoff(): Promise<void> {
  const post = await createPost(server, alice);
  const channel = `post:${post.id}`;
  // The epoch: from the list's Tandem-Epoch header when the server sends one, else from a subscribe.
  const probe = await connect(server, bob);
  const { e } = await subscribe(probe, channel);
  probe.close();

  const total = 90;
  const writer = writeComments(server, alice, post.id, total, 3, 6);
  const readers = [5, 25, 45, 70].map(async (after) => {
    await until(() => writer.written() >= after, `${after} comments`, 10_000);
    const list = await server.request(`/api/posts/${post.id}/comments?limit=100`);
    expect(list.status).toBe(200);
    expect(list.headers.get('tandem-channel')).toBe(channel);
    const position = Number(list.headers.get('tandem-position'));
    const epoch = list.headers.get('tandem-epoch') ?? e;
    expect(epoch).toBe(e);
    const items = ((await list.json()) as { items: Comment[] }).items;
    const socket = await connect(server, bob);
    const answer = await subscribe(socket, channel, { e: epoch, o: position });
    expect(answer.rec, JSON.stringify(answer)).toBe(true);
    return { position, items, socket, answer };
  });
  const snapshots = await Promise.all(readers);
  const created = await writer.done;
  const everything = created.map((c) => c.id).sort((a, b) => a - b);

  for (const { position, items, socket, answer } of snapshots) {
    await until(() => {
      const pubs = [...answer.pubs!, ...socket.publications(channel)];
      return pubs.length > 0 ? pubs[pubs.length - 1]!.o === total : position === total;
    }, 'the last publication');
    const pubs = [...answer.pubs!, ...socket.publications(channel)];
    expect(offsets(pubs)).toEqual(range(position + 1, total));
    const fromList = items.map((c) => c.id);
    const fromPubs = pubs.map((f) => (f.d as Comment).id);
    const duplicates = fromList.filter((id) => fromPubs.includes(id));
    expect(duplicates, `in the list at position ${position} and published after it`).toEqual([]);
    expect(fromList.length, `the list at position ${position}`).toBe(position);
    expect([...fromList, ...fromPubs].sort((a, b) => a - b)).toEqual(everything);
  }
}

describe('snapshot handoff (GET the list, then subscribe from its position) under concurrent writes', () => {
  it('the list plus the publications is every comment exactly once', snapshotHandoff);
});

/**
 * The same two scenarios with a broker that answers after a network round trip (as a Redis
 * broker would): publications now arrive while a subscribe is waiting for its history or
 * position, so the hub's hold-and-merge path is exercised end to end. Only the timing of the
 * real MemoryBroker changes; half the time it reads before the delay, half the time after.
 */
describe('with broker latency (publications land while a subscribe waits for the broker)', () => {
  beforeAll(() => {
    const { history, position } = MemoryBroker.prototype;
    const delayed = <A extends unknown[], R>(read: (...args: A) => Promise<R>) => async function (this: MemoryBroker, ...args: A): Promise<R> {
      const wait = () => sleep(2 + Math.random() * 15);
      if (Math.random() < 0.5) {
        const result = await read.apply(this, args);
        await wait();
        return result;
      }
      await wait();
      return read.apply(this, args);
    };
    vi.spyOn(MemoryBroker.prototype, 'history').mockImplementation(delayed(history));
    vi.spyOn(MemoryBroker.prototype, 'position').mockImplementation(delayed(position));
  });
  afterAll(() => vi.restoreAllMocks());

  it('recovery at random reconnects replays exactly what was missed', reconnectLoop);
  it('the snapshot handoff misses and repeats nothing', snapshotHandoff);
});
