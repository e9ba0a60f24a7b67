import { afterEach, describe, expect, it } from 'vitest';
import type { TestSocket } from '../support/realtime';
import type { TestUser } from '../support/server';
import { until } from '../support/wait';
import { closeOf, createPost, handshake, metric, pauseReading, postUntilSlowConsumer, Resources, resumeReading, users } from './support';

const res = new Resources();
afterEach(() => res.closeAll());

const zeroGateway = { connections: 0, ips: 0, users: 0, sessions: 0, streams: 0, closedStreams: 0 };
const zeroHub = { channels: 0, subscriptions: 0, subscribers: 0, presenceEntries: 0, pendingTimers: 0 };

async function pingPong(socket: TestSocket, id: number): Promise<void> {
  const pong = socket.next((f) => f.t === 'pong' && f.id === id, 2_000);
  socket.sendRaw(JSON.stringify({ t: 'ping', id }));
  await pong;
}

describe('heartbeats', () => {
  it('terminates a peer that never answers pings within ~2 intervals and frees everything', async () => {
    const server = await res.server({ realtimeLimits: { heartbeatIntervalMs: 100 }, env: { TANDEM_PRESENCE_GRACE_MS: '50' } });
    const [alice] = (await users(server, 1)) as [TestUser];
    const silent = await res.raw(server, { autoPong: false });
    const answers: string[] = [];
    silent.on('message', (data) => answers.push(data.toString()));
    const closed = closeOf(silent, 5_000);
    silent.send(JSON.stringify({ t: 'auth', id: 1, tok: alice.accessToken }));
    silent.send(JSON.stringify({ t: 'sub', id: 2, ch: 'online' }));
    const lastMessageAt = Date.now();
    await until(() => answers.join('\n').includes('"id":2'), 'sub ack', 2_000);
    expect(server.social.hub.stats().subscriptions).toBe(1);

    const { code } = await closed;
    const silentFor = Date.now() - lastMessageAt;
    expect(code).toBe(1006); // terminated, no close handshake
    // A message proves liveness: the first ping after it goes unanswered, the next beat terminates.
    expect(silentFor).toBeGreaterThanOrEqual(95);
    expect(silentFor).toBeLessThan(600);
    await until(() => server.social.gateway.stats().connections === 0, 'gateway freed', 2_000);
    expect(server.social.gateway.stats()).toEqual(zeroGateway);
    await until(() => server.social.hub.stats().presenceEntries === 0, 'presence grace over', 2_000);
    expect(server.social.hub.stats()).toEqual(zeroHub);
  });

  it('spreads the pings over the interval instead of pinging every connection at once', async () => {
    const interval = 400;
    const server = await res.server({ realtimeLimits: { heartbeatIntervalMs: interval } });
    const people = await users(server, 12);
    const pings: number[][] = [];
    await Promise.all(people.map(async (person, i) => {
      const socket = await res.connect(server, person.accessToken);
      pings[i] = [];
      socket.ws.on('ping', () => pings[i]!.push(Date.now()));
    }));
    // From a whole interval after the last one connected, each connection's next ping:
    const from = Date.now() + interval;
    const after = (times: number[]) => times.filter((t) => t >= from);
    await until(() => pings.every((times) => after(times).length >= 2), 'two more pings each', 4_000);
    // every connection is still pinged once per interval...
    for (const times of pings) expect(after(times)[1]! - after(times)[0]!).toBeGreaterThan(interval * 0.6);
    // ...but in different slices of it (pinged all at once, they would be within a few ms of each other).
    const firsts = pings.map((times) => after(times)[0]!);
    expect(Math.max(...firsts) - Math.min(...firsts)).toBeGreaterThan(interval / 4);
  });

  it('keeps a live peer (ws answers pings) for many intervals', async () => {
    const server = await res.server({ realtimeLimits: { heartbeatIntervalMs: 100 } });
    const [alice] = (await users(server, 1)) as [TestUser];
    const live = await res.connect(server, alice.accessToken);
    let pings = 0;
    live.ws.on('ping', () => (pings += 1));
    // Five heartbeats (within the second the test used to sleep): a dead peer would be gone after two.
    await until(() => pings >= 5, 'five heartbeats', 1_000).catch(() => undefined);
    expect(pings).toBeGreaterThanOrEqual(5);
    expect(live.closed).toBeUndefined();
    await pingPong(live, 1);
  });
});

describe('slow consumers', () => {
  it('closes a connection that stops reading with 4500 instead of buffering without bound', async () => {
    // 64 KiB, not 4 KiB: the cap also counts the frames queued in one turn, and a 5 KB post
    // (or a few in one turn) would trip a 4 KiB cap on a client that reads perfectly well.
    const server = await res.server({ realtimeLimits: { outboundBufferBytes: 65_536 } });
    const [alice, bob] = (await users(server, 2)) as [TestUser, TestUser];
    const slow = await res.connect(server, alice.accessToken);
    const healthy = await res.connect(server, bob.accessToken);
    expect((await slow.request({ t: 'sub', ch: 'feed' })).t).toBe('ack');
    expect((await healthy.request({ t: 'sub', ch: 'feed' })).t).toBe('ack');
    pauseReading(slow.ws);

    // Publish until the kernel buffers are full and the server's cap is hit (a few MB on loopback).
    const produced = await postUntilSlowConsumer(server, bob, { batch: 5, max: 4_000 });
    const written = await metric(server, 'tandem_ws_bytes_out_total');

    // Once it reads again it drains what the kernel held and sees the close.
    resumeReading(slow.ws);
    expect(await slow.whenClosed(5_000)).toEqual({ code: 4500, reason: 'slow_consumer' });
    expect(slow.publications('feed').length).toBeLessThan(produced);
    await until(() => server.social.gateway.stats().connections === 1, 'slow consumer freed', 3_000);

    // Nothing more was written for it: 40 more posts cost only the healthy client's bytes (a post frame is ~5,320 B; two clients would be twice that).
    await Promise.all(Array.from({ length: 40 }, () => createPost(server, bob, 'x'.repeat(5_000))));
    await until(() => healthy.publications('feed').length === produced + 40, 'healthy client got everything', 5_000);
    expect(await metric(server, 'tandem_ws_bytes_out_total') - written).toBeLessThan(40 * 5_500);
    expect(healthy.closed).toBeUndefined();
  });
});

describe('shutdown', () => {
  it('closes every socket with 1012 and a jittered {"retry_ms":N}, refusing handshakes while it drains', async () => {
    const server = await res.server();
    const people = await users(server, 4);
    const sockets = await Promise.all(people.map((u) => res.connect(server, u.accessToken)));
    await Promise.all(sockets.map((s) => s.request({ t: 'sub', ch: 'feed' })));
    // One peer does not read: it keeps the drain waiting for its close handshake.
    const laggard = await res.connect(server, people[0]!.accessToken);
    pauseReading(laggard.ws);

    const closing = res.closeServer(server);
    const closes = await Promise.all(sockets.map((s) => s.whenClosed(5_000)));
    await until(() => server.social.gateway.connectionCount === 1, 'the readers closed', 2_000);
    const refused = await handshake(server);
    expect(refused.status).toBe(503);
    expect(refused.code).toBe('server_busy');
    expect(Number(refused.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    resumeReading(laggard.ws);
    closes.push(await laggard.whenClosed(5_000));
    await closing;

    const delays = closes.map(({ code, reason }) => {
      expect(code).toBe(1012);
      const parsed = JSON.parse(reason) as { retry_ms: number };
      expect(Object.keys(parsed)).toEqual(['retry_ms']);
      expect(Number.isInteger(parsed.retry_ms)).toBe(true);
      expect(parsed.retry_ms).toBeGreaterThanOrEqual(0);
      expect(parsed.retry_ms).toBeLessThan(5_000);
      return parsed.retry_ms;
    });
    expect(new Set(delays).size).toBeGreaterThan(1);
    expect(server.social.gateway.stats()).toEqual(zeroGateway);
  });
});
