import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { TestSocket, type Frame } from '../support/realtime';
import { registerUser, startServer, type TestServer, type TestUser } from '../support/server';
import { until } from '../support/wait';

/**
 * User-level presence over real sockets: a user with several tabs is one presence, a tab closing
 * while others stay is no leave, the last one closing is a leave only after the grace period
 * (TANDEM_PRESENCE_GRACE_MS=300), and a reconnect within the grace is neither a leave nor a join.
 * The grace passes on the server's injected clock and faked setTimeout (see `advance`), not in real
 * time; sockets, setImmediate and the gateway's tick stay real.
 */

const GRACE_MS = 300;
const limits = { handshakesPerIpPerSecond: 10_000, newConnectionsPerSecond: 10_000, maxConnectionsPerIp: 10_000, maxConnectionsPerUser: 100 };

interface PresenceUser { id: number; n: string }
interface SubscribeAck { e: string; o: number; pres?: PresenceUser[] | { n: number } }

let server: TestServer;
let alice: TestUser;
let bob: TestUser;
let carol: TestUser;
const sockets = new Set<TestSocket>();
/** How far the test moved the server's clock ahead of real time (only ever forward). */
let skewMs = 0;

beforeAll(async () => {
  server = await startServer({ env: { TANDEM_PRESENCE_GRACE_MS: String(GRACE_MS) }, realtimeLimits: limits, realtimeTickMs: 20, clock: () => Date.now() + skewMs });
  alice = await registerUser(server);
  bob = await registerUser(server);
  carol = await registerUser(server);
});
afterEach(async () => {
  vi.useRealTimers();
  for (const socket of sockets) socket.close();
  sockets.clear();
  // Their grace timers start now, on real timers, not in the next test's faked ones (which it could drop).
  await until(() => server.social.gateway.stats().connections === 0, 'the server to see every socket go');
});
afterAll(() => server.close());

async function connect(user: TestUser): Promise<TestSocket> {
  const socket = await TestSocket.connect(server, user.accessToken);
  sockets.add(socket);
  return socket;
}

async function subscribe(socket: TestSocket, ch: string): Promise<SubscribeAck> {
  const answer = await socket.request({ t: 'sub', ch });
  if (answer.t !== 'ack') throw new Error(`sub ${ch} refused: ${JSON.stringify(answer)}`);
  return answer.d as SubscribeAck;
}

/** Terminates a tab abruptly (no close handshake), as a crashed browser or lost network would. */
function kill(socket: TestSocket): void {
  socket.ws.terminate();
  sockets.delete(socket);
}

async function conversationOf(owner: TestUser, ...others: TestUser[]): Promise<number> {
  const res = await server.request('/api/conversations', { method: 'POST', token: owner.accessToken, json: { members: others.map((u) => u.username) } });
  expect([200, 201]).toContain(res.status);
  return ((await res.json()) as { id: number }).id;
}

function presenceFrames(socket: TestSocket, channel: string, kind: 'join' | 'leave', userId?: number): Frame[] {
  return socket.frames.filter((f) => f.t === kind && f.ch === channel && (userId === undefined || (f.u as PresenceUser).id === userId));
}

let pingId = 1_000_000;
/** A round trip: every frame the server queued for this socket before the pong has arrived. */
async function roundTrip(socket: TestSocket): Promise<void> {
  const id = ++pingId;
  const pong = socket.next((f) => f.t === 'pong' && f.id === id);
  socket.sendRaw(JSON.stringify({ t: 'ping', id }));
  await pong;
}

/**
 * From here on the server's presence grace timers (setTimeout) are fake: they fire only when
 * `advance` moves them, together with the server's clock. Sockets keep running (setImmediate,
 * nextTick and the gateway's setInterval stay real); `until` and `sleep` wait in real time.
 */
function holdGraceTimers(): void {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
}

/** `ms` of server time pass: its clock, and the grace timers due meanwhile fire. */
function advance(ms: number): void {
  skewMs += ms;
  vi.advanceTimersByTime(ms);
}

function me(user: TestUser): PresenceUser {
  return { id: user.id, n: user.username };
}

function sorted(users: PresenceUser[] | { n: number } | undefined): PresenceUser[] {
  if (!Array.isArray(users)) throw new Error(`expected a user list, got ${JSON.stringify(users)}`);
  return [...users].sort((a, b) => a.id - b.id);
}

describe('presence in a conversation (users) and on online', () => {
  it('one join per user however many tabs, no leave while a tab remains, a leave only after the grace', async () => {
    const conversation = `conversation:${await conversationOf(alice, bob)}`;
    const bobSocket = await connect(bob);
    const bobConv = await subscribe(bobSocket, conversation);
    expect(bobConv.pres).toEqual([me(bob)]);
    const bobOnline = await subscribe(bobSocket, 'online');
    expect(sorted(bobOnline.pres)).toContainEqual(me(bob));

    // Alice opens three tabs, each subscribing to both channels.
    const tabs: TestSocket[] = [];
    for (let i = 0; i < 3; i += 1) {
      const tab = await connect(alice);
      tabs.push(tab);
      const conv = await subscribe(tab, conversation);
      expect(sorted(conv.pres)).toEqual(sorted([me(alice), me(bob)]));
      const online = await subscribe(tab, 'online');
      expect(sorted(online.pres)).toEqual(expect.arrayContaining([me(alice), me(bob)]));
    }
    // Bob's own ping is a barrier: every frame the hub sent him before it has arrived.
    await roundTrip(bobSocket);
    expect(presenceFrames(bobSocket, conversation, 'join')).toEqual([{ t: 'join', ch: conversation, u: me(alice) }]);
    expect(presenceFrames(bobSocket, 'online', 'join', alice.id)).toEqual([{ t: 'join', ch: 'online', u: me(alice) }]);
    // Nobody is told about themselves joining, and the later tabs learn nothing new either.
    for (const tab of tabs) expect(presenceFrames(tab, conversation, 'join')).toEqual([]);
    expect(await server.social.hub.presence(conversation)).toEqual(expect.arrayContaining([me(alice), me(bob)]));

    // Two tabs close: alice is still there.
    holdGraceTimers();
    kill(tabs[0]!);
    kill(tabs[1]!);
    await until(() => server.social.gateway.stats().connections === 2, 'the server to see two tabs close');
    advance(GRACE_MS * 2);
    await roundTrip(bobSocket);
    expect(presenceFrames(bobSocket, conversation, 'leave')).toEqual([]);
    expect(presenceFrames(bobSocket, 'online', 'leave', alice.id)).toEqual([]);

    // The last tab closes, and the user comes back within the grace: no leave, no second join.
    const lastTabGone = Date.now();
    kill(tabs[2]!);
    // Make sure the server saw the last tab go (so this really is a return within the grace).
    await until(() => server.social.gateway.stats().connections === 1, 'the server to see the tab close');
    advance(GRACE_MS / 4);
    const back = await connect(alice);
    const again = await subscribe(back, conversation);
    expect(sorted(again.pres)).toEqual(sorted([me(alice), me(bob)]));
    await subscribe(back, 'online');
    expect(Date.now() - lastTabGone, 'the return took longer than the grace').toBeLessThan(GRACE_MS);
    advance(GRACE_MS * 2);
    await roundTrip(bobSocket);
    expect(presenceFrames(bobSocket, conversation, 'leave')).toEqual([]);
    expect(presenceFrames(bobSocket, conversation, 'join')).toHaveLength(1);
    expect(presenceFrames(bobSocket, 'online', 'leave', alice.id)).toEqual([]);
    expect(presenceFrames(bobSocket, 'online', 'join', alice.id)).toHaveLength(1);

    // Gone for good: the leave comes after the grace, not before, on both channels.
    const goneAt = Date.now();
    kill(back);
    await until(() => server.social.gateway.stats().connections === 1, 'the server to see her go');
    advance(GRACE_MS - 50);
    await roundTrip(bobSocket);
    expect(presenceFrames(bobSocket, conversation, 'leave'), 'a leave before the grace period ended').toEqual([]);
    advance(50);
    const leave = await until(() => presenceFrames(bobSocket, conversation, 'leave')[0], 'the leave', 1_000 - (Date.now() - goneAt));
    expect(leave).toEqual({ t: 'leave', ch: conversation, u: me(alice) });
    await until(() => presenceFrames(bobSocket, 'online', 'leave', alice.id)[0], 'the online leave', 1_000);
    expect(Date.now() - goneAt).toBeLessThan(1_000);
    await roundTrip(bobSocket);
    expect(presenceFrames(bobSocket, conversation, 'leave')).toHaveLength(1);
    expect(presenceFrames(bobSocket, 'online', 'leave', alice.id)).toHaveLength(1);
    vi.useRealTimers();

    // A fresh subscriber's snapshot no longer lists her.
    const later = await connect(carol);
    expect((await subscribe(later, 'online')).pres).not.toContainEqual(me(alice));
    expect(await server.social.hub.presence(conversation)).toEqual([me(bob)]);
  });

  it('unsubscribing a tab counts like closing it; the snapshot lists each user once', async () => {
    const conversation = `conversation:${await conversationOf(carol, alice, bob)}`;
    const watcher = await connect(carol);
    await subscribe(watcher, conversation);
    const tabs = [await connect(bob), await connect(bob)];
    for (const tab of tabs) await subscribe(tab, conversation);
    const snapshot = await subscribe(await connect(alice), conversation);
    expect(sorted(snapshot.pres)).toEqual(sorted([me(alice), me(bob), me(carol)]));

    holdGraceTimers();
    expect((await tabs[0]!.request({ t: 'unsub', ch: conversation })).t).toBe('ack');
    advance(GRACE_MS + 150);
    await roundTrip(watcher);
    expect(presenceFrames(watcher, conversation, 'leave')).toEqual([]);
    expect((await tabs[1]!.request({ t: 'unsub', ch: conversation })).t).toBe('ack');
    advance(GRACE_MS);
    await until(() => presenceFrames(watcher, conversation, 'leave', bob.id)[0], 'bob leaving', 1_000);
    expect(presenceFrames(watcher, conversation, 'join', bob.id)).toHaveLength(1);
    expect(presenceFrames(watcher, conversation, 'leave')).toEqual([{ t: 'leave', ch: conversation, u: me(bob) }]);
  });

  it('typing reaches the other members, stamped with the sender, and not the sender', async () => {
    const conversation = `conversation:${await conversationOf(alice, bob)}`;
    const a = await connect(alice);
    const b = await connect(bob);
    await subscribe(a, conversation);
    await subscribe(b, conversation);
    expect((await a.request({ t: 'pub', ch: conversation, ev: 'typing', d: { on: true } })).t).toBe('ack');
    const typing = await until(() => b.publications(conversation)[0], 'typing');
    expect(typing).toEqual({ t: 'pub', ch: conversation, ev: 'typing', d: { on: true, by: me(alice) } });
    await roundTrip(a);
    await roundTrip(b);
    expect(a.publications(conversation)).toEqual([]);
    // Outsiders cannot subscribe (and so cannot see who is there).
    const outsider = await connect(carol);
    expect(await outsider.request({ t: 'sub', ch: conversation })).toMatchObject({ t: 'err', c: 'forbidden' });
  });

  it('everything is forgotten once the last user left and the grace passed', async () => {
    for (const socket of sockets) socket.close();
    sockets.clear();
    await until(() => server.social.gateway.stats().connections === 0, 'no connections');
    // The last sockets went in the previous afterEach, on real timers: wait out their grace (at most GRACE_MS + 100, as before).
    const zero = (stats: object) => Object.values(stats).every((value) => value === 0);
    await until(() => zero(server.social.hub.stats()), 'the grace to pass', GRACE_MS + 100).catch(() => undefined);
    expect(server.social.hub.stats()).toEqual({ channels: 0, subscriptions: 0, subscribers: 0, presenceEntries: 0, pendingTimers: 0 });
  });
});
