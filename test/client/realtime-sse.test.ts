import net from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { StorageLike } from '../../src/client/index';
import { createPost } from '../realtime/support';
import { registerUser, startServer, type TestServer, type TestUser } from '../support/server';
import { sleep, until } from '../support/wait';
import { Clients, collector, comment, nextState, range, RECONNECT_MS, roomyLimits, writeComments } from './realtime-support';

/**
 * The SSE fallback as the RealtimeClient uses it: a stream that dies silently is resumed with
 * Last-Event-ID; a resume that cannot happen becomes a reconnect that recovers from positions;
 * and the choice between WebSocket and SSE, against a real proxy that breaks WebSockets the
 * ways real ones do (kills the connection right after the upgrade, or refuses the upgrade).
 */

let server: TestServer;
let alice: TestUser;
let bob: TestUser;
const clients = new Clients();

beforeAll(async () => {
  server = await startServer({ realtimeLimits: { ...roomyLimits, sseResumeGraceMs: 300 }, realtimeTickMs: 20 });
  alice = await registerUser(server);
  bob = await registerUser(server);
});
afterEach(() => clients.closeAll());
afterAll(() => server.close());

/** localStorage for Node: a Map behind the Storage methods. */
function memoryStorage(): StorageLike & { entries: Map<string, string> } {
  const entries = new Map<string, string>();
  return {
    entries,
    getItem: (key) => entries.get(key) ?? null,
    setItem: (key, value) => void entries.set(key, value),
    removeItem: (key) => void entries.delete(key),
  };
}

type ProxyMode = 'pass' | 'kill-upgrades' | 'refuse-upgrades';

/**
 * A TCP proxy in front of the server. HTTP passes through; WebSocket upgrades pass, are killed
 * 30 ms after the server accepted them (a proxy that accepts the upgrade and then drops it), or
 * are refused with 502 (a proxy that does not speak WebSocket).
 */
async function startProxy(target: string, mode: ProxyMode) {
  const { port: targetPort } = new URL(target);
  const state = { mode, upgrades: 0 };
  const sockets = new Set<net.Socket>();
  const proxy = net.createServer((client) => {
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    client.on('error', () => client.destroy());
    client.once('data', (first) => {
      const isUpgrade = /\r\nupgrade: websocket\r\n/i.test(first.toString('latin1'));
      if (isUpgrade) state.upgrades += 1;
      if (isUpgrade && state.mode === 'refuse-upgrades') {
        client.end('HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
        return;
      }
      const upstream = net.connect(Number(targetPort), '127.0.0.1');
      sockets.add(upstream);
      upstream.on('close', () => (sockets.delete(upstream), client.destroy()));
      upstream.on('error', () => upstream.destroy());
      client.on('close', () => upstream.destroy());
      upstream.write(first);
      client.pipe(upstream);
      upstream.pipe(client);
      if (isUpgrade && state.mode === 'kill-upgrades') {
        upstream.once('data', () => setTimeout(() => (client.destroy(), upstream.destroy()), 30));
      }
    });
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  const address = proxy.address() as net.AddressInfo;
  return {
    state,
    url: `http://127.0.0.1:${address.port}`,
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => proxy.close(resolve));
    },
  };
}

describe('a stream that breaks', () => {
  it('dies silently (bytes stop arriving): the heartbeat notices, the stream resumes, nothing is lost or doubled', async () => {
    const post = await createPost(server, alice);
    const { client, states, streams, faults } = clients.create(server, bob, { transport: 'sse', heartbeatIntervalMs: 150 });
    const seen = collector();
    // How many resumes had started when each message arrived.
    const resumesAtArrival: number[] = [];
    const subscription = client.subscribe(`post:${post.id}`, (message) => {
      resumesAtArrival.push(streams.filter((s) => s.resume).length);
      seen.handler(message);
    });
    client.connect();
    await until(() => subscription.state === 'live', 'live', RECONNECT_MS);
    for (let i = 1; i <= 3; i += 1) await comment(server, alice, post.id, `c${i}`);
    await until(() => seen.messages.length === 3, 'three comments', RECONNECT_MS);

    faults.stall();
    const resumesAtStall = streams.filter((s) => s.resume).length;
    for (let i = 4; i <= 6; i += 1) await comment(server, alice, post.id, `c${i}`);
    await until(() => streams.some((s) => s.resume && s.status === 200), 'the resume', RECONNECT_MS);
    await until(() => seen.messages.length === 6, 'the lost three, replayed', RECONNECT_MS);
    // Written by the server, lost on the way: they came only with the resume (whether the three
    // writes took longer than the two heartbeats after which the client resumes, or not).
    expect(Math.min(...resumesAtArrival.slice(3))).toBeGreaterThan(resumesAtStall);
    await comment(server, alice, post.id, 'c7');
    await until(() => seen.messages.length === 7, 'the live one', RECONNECT_MS);
    expect(seen.offsets()).toEqual(range(1, 7));
    expect(states.map((s) => s.state)).toEqual(['connecting', 'open']);
  });

  it('cannot be resumed (the network stays down): the client reconnects and recovers from its positions', async () => {
    const post = await createPost(server, alice);
    const { client, states, faults, cut, attempts } = clients.create(server, bob, { transport: 'sse' });
    const seen = collector();
    const resyncs: string[] = [];
    client.on('resync', (channel) => resyncs.push(channel));
    const subscription = client.subscribe(`post:${post.id}`, seen.handler);
    client.connect();
    await until(() => subscription.state === 'live', 'live', RECONNECT_MS);
    await comment(server, alice, post.id, 'one');
    await until(() => seen.messages.length === 1, 'one comment', RECONNECT_MS);

    faults.failResumes = 2;
    cut();
    await until(() => states.some((s) => s.state === 'reconnecting'), 'reconnecting', RECONNECT_MS);
    expect(states.find((s) => s.state === 'reconnecting')).toMatchObject({ code: 1006, reason: 'stream_lost' });
    await comment(server, alice, post.id, 'two, while away');
    await until(() => states.filter((s) => s.state === 'open').length === 2, 'open again', RECONNECT_MS);
    await comment(server, alice, post.id, 'three');
    await until(() => seen.messages.length === 3, 'three comments', RECONNECT_MS);
    expect(seen.offsets()).toEqual([1, 2, 3]);
    expect(resyncs).toEqual([]);
    expect(attempts()).toBe(2);
  });

  it('comes back too late (the server gave up on it: 410): the client reconnects and recovers, exactly once', async () => {
    const post = await createPost(server, alice);
    const { client, states, faults, cut, streams } = clients.create(server, bob, { transport: 'sse' });
    const seen = collector();
    const subscription = client.subscribe(`post:${post.id}`, seen.handler);
    client.connect();
    await until(() => subscription.state === 'live', 'live', RECONNECT_MS);
    const writer = writeComments(server, alice, post.id, 40, 2, 5);
    await until(() => seen.messages.length >= 5, 'five comments', RECONNECT_MS);

    faults.delayResumesMs = 600; // the server keeps a dropped stream for 300 ms
    cut();
    await until(() => streams.some((s) => s.resume && s.status === 410), 'the refused resume', RECONNECT_MS);
    await writer.done;
    await until(() => seen.messages.length >= 40, 'all forty', RECONNECT_MS);
    await sleep(50);
    expect(seen.offsets()).toEqual(range(1, 40));
    expect(states.filter((s) => s.state === 'reconnecting').map((s) => s.reason)).toEqual(['stream_lost']);
    expect(server.social.gateway.stats().streams).toBe(1);
  });
});

describe('a server close the stream missed', () => {
  it('a logout while the stream was cut: the resume learns the close (4009) and the client stops, no reconnect loop', async () => {
    const dave = await registerUser(server);
    const { client, faults, cut, attempts, streams } = clients.create(server, dave, { transport: 'sse' });
    client.connect();
    await nextState(client, 'open');
    faults.delayResumesMs = 150; // the server keeps a closed stream's close for its 300 ms grace
    const closed = nextState(client, 'closed');
    cut();
    await sleep(30);
    expect((await server.request('/api/auth/logout', { method: 'POST', token: dave.accessToken })).status).toBe(204);
    expect(await closed).toMatchObject({ code: 4009, reason: 'session_revoked' });
    expect(streams.filter((s) => s.resume).map((s) => s.status)).toEqual([410]);
    await sleep(300);
    expect(attempts()).toBe(1);
    expect(client.state).toBe('closed');
  });
});

describe('choosing between WebSocket and SSE', () => {
  const proxies: Array<{ close(): Promise<void> }> = [];
  afterEach(async () => {
    clients.closeAll();
    await Promise.all(proxies.splice(0).map((p) => p.close()));
  });

  async function behind(mode: ProxyMode) {
    const proxy = await startProxy(server.url, mode);
    proxies.push(proxy);
    return { proxy, reachable: { url: proxy.url, request: server.request.bind(server) } };
  }

  it('a proxy that kills upgraded connections: SSE after two quick deaths, kept once a probe fails, WebSocket probed until it holds again; nothing lost on the way', async () => {
    const { proxy, reachable } = await behind('kill-upgrades');
    const storage = memoryStorage();
    const post = await createPost(server, alice);
    const { client, sockets, states } = clients.create(reachable, bob, {
      transports: ['websocket', 'sse'],
      storage,
      fallback: { afterFailures: 2, quickDeathMs: 400, rememberMs: 600 },
    });
    const seen = collector();
    const subscription = client.subscribe(`post:${post.id}`, seen.handler);
    client.connect();
    await until(() => subscription.state === 'live' && client.transport === 'sse', 'live over SSE', RECONNECT_MS);
    expect(sockets).toHaveLength(2);
    const key = `tandem.transport:${new URL(proxy.url).host}`;
    expect(storage.entries.has(key)).toBe(false); // not before a probe says WebSocket is really broken

    const writer = writeComments(server, alice, post.id, 60, 2, 40);
    // The probe right after the fallback (1-3 s) meets the same proxy: SSE is kept and remembered.
    await until(() => storage.entries.has(key), 'the choice remembered after a failed probe', 5_000);
    expect(sockets).toHaveLength(3);
    const firstUntil = Number(storage.entries.get(key));
    expect(firstUntil).toBeGreaterThan(Date.now());
    // The next probe (after ~600 ms) fails too: the memory is extended.
    await until(() => Number(storage.entries.get(key)) > firstUntil, 'the choice extended', 5_000);
    expect(client.transport).toBe('sse');

    proxy.state.mode = 'pass';
    await until(() => client.transport === 'websocket' && client.state === 'open', 'back on WebSocket', 5_000);
    expect(storage.entries.has(key)).toBe(false);
    await writer.done;
    await until(() => seen.messages.length >= 60, 'all sixty', 10_000);
    await sleep(50);
    expect(seen.offsets()).toEqual(range(1, 60));
    // The move back is an ordinary reconnect that resumes from the positions.
    expect(states.filter((s) => s.state === 'reconnecting').map((s) => s.reason)).toContain('transport_upgrade');
  }, 20_000);

  it('a server that restarts is not a broken path: the SSE opened meanwhile is left at the first probe, nothing remembered', async () => {
    const { proxy, reachable } = await behind('refuse-upgrades');
    const storage = memoryStorage();
    const { client } = clients.create(reachable, bob, { transports: ['websocket', 'sse'], storage, fallback: { quickDeathMs: 300 } });
    client.connect();
    await until(() => client.state === 'open' && client.transport === 'sse', 'open over SSE', RECONNECT_MS);
    proxy.state.mode = 'pass'; // "the server is back"
    await until(() => client.transport === 'websocket' && client.state === 'open', 'back on WebSocket after the first probe', 6_000);
    expect(storage.entries.size).toBe(0);
  });

  it('a proxy that refuses upgrades (502): SSE after two failed handshakes', async () => {
    const { reachable } = await behind('refuse-upgrades');
    const { client, sockets, states } = clients.create(reachable, bob, { transports: ['websocket', 'sse'], storage: memoryStorage() });
    const seen = collector();
    const post = await createPost(server, alice);
    const subscription = client.subscribe(`post:${post.id}`, seen.handler);
    client.connect();
    await until(() => subscription.state === 'live', 'live', RECONNECT_MS);
    expect(client.transport).toBe('sse');
    expect(sockets).toHaveLength(2);
    expect(states.filter((s) => s.state === 'reconnecting').map((s) => s.code)).toEqual([1006, 1006]);
    await comment(server, alice, post.id, 'over SSE');
    await until(() => seen.messages.length === 1, 'the comment', RECONNECT_MS);
  });

  it('a server that is down is not a WebSocket problem: SSE failing too sends the client back to WebSocket, nothing is remembered', async () => {
    const closed = net.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as net.AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const storage = memoryStorage();
    const { client, sockets, streams } = clients.create({ url: `http://127.0.0.1:${port}`, request: server.request.bind(server) }, bob, { transports: ['websocket', 'sse'], storage });
    client.connect();
    await until(() => sockets.length >= 4, 'four WebSocket attempts', 10_000);
    client.disconnect();
    // WebSocket, WebSocket, SSE (fails: the server, not the path), WebSocket, WebSocket, SSE, ...
    expect(streams.length).toBeGreaterThanOrEqual(1);
    expect(streams.length).toBeLessThanOrEqual(Math.ceil(sockets.length / 2));
    expect(storage.entries.size).toBe(0);
  });

  it('a remembered choice is used at once, by a new client of the same origin', async () => {
    const { proxy, reachable } = await behind('pass');
    const storage = memoryStorage();
    storage.setItem(`tandem.transport:${new URL(proxy.url).host}`, String(Date.now() + 60_000));
    const { client, sockets } = clients.create(reachable, bob, { transports: ['websocket', 'sse'], storage });
    client.connect();
    await until(() => client.state === 'open', 'open', RECONNECT_MS);
    expect(client.transport).toBe('sse');
    expect(sockets).toHaveLength(0);
  });
});
