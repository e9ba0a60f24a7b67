import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { TestUser } from '../support/server';
import { sleep, until } from '../support/wait';
import { createPost, expectErr, handshake, Resources, users, type HandshakeAnswer } from './support';

const res = new Resources();
afterEach(() => res.closeAll());

const zero = { connections: 0, ips: 0, users: 0, sessions: 0, streams: 0, closedStreams: 0 };

function expectRefused(answer: HandshakeAnswer, status: number, code: string, retryAfter: boolean): void {
  expect(answer.status).toBe(status);
  expect(answer.code).toBe(code);
  expect(answer.headers['content-type']).toMatch(/^application\/problem\+json/);
  expect(JSON.parse(answer.body)).toMatchObject({ type: `urn:tandem:error:${code}`, status, code, title: expect.any(String) });
  if (retryAfter) expect(Number(answer.headers['retry-after'])).toBeGreaterThanOrEqual(1);
  else expect(answer.headers['retry-after']).toBeUndefined();
}

async function pingPong(socket: Awaited<ReturnType<Resources['open']>>, id: number): Promise<void> {
  const pong = socket.next((f) => f.t === 'pong' && f.id === id, 2_000);
  socket.sendRaw(JSON.stringify({ t: 'ping', id }));
  await pong;
}

describe('inbound frame limits', () => {
  it('closes a connection that sends a frame over maxPayloadBytes with 1009; other connections carry on', async () => {
    const server = await res.server({ realtimeLimits: { maxPayloadBytes: 1024 } });
    const [alice, bob] = (await users(server, 2)) as [TestUser, TestUser];
    const bystander = await res.connect(server, bob.accessToken);
    expect((await bystander.request({ t: 'sub', ch: 'feed' })).t).toBe('ack');
    // Several times: the close must be a real 1009 every time, not a reset (1006).
    for (let round = 0; round < 5; round += 1) {
      const offender = await res.connect(server, alice.accessToken);
      offender.sendRaw(JSON.stringify({ t: 'pub', id: 1, ch: 'feed', ev: 'x', d: 'y'.repeat(4_000 + round * 50_000) }));
      expect((await offender.whenClosed()).code).toBe(1009);
    }
    // A frame of exactly the limit is fine.
    const exact = await res.connect(server, alice.accessToken);
    const frame = JSON.stringify({ t: 'ping', id: 5 });
    const pong = exact.next((f) => f.t === 'pong' && f.id === 5);
    exact.sendRaw(frame.replace('{', `{${' '.repeat(1024 - frame.length)}`));
    await pong;

    await pingPong(bystander, 77);
    const pub = bystander.next((f) => f.t === 'pub' && f.ch === 'feed');
    await createPost(server, alice, 'still flowing');
    await pub;
    expect(bystander.closed).toBeUndefined();
    await until(() => server.social.gateway.stats().connections === 2, 'offenders freed', 3_000);
  });

  it('answers the first message over the rate with message_rate_limited and drops it', async () => {
    let skewMs = 0;
    const server = await res.server({ realtimeLimits: { messagesPerSecond: 2, messageBurst: 5 }, clock: () => Date.now() + skewMs });
    const socket = await res.open(server);
    const errs = socket.next((f) => f.t === 'err');
    for (let i = 1; i <= 7; i += 1) socket.sendRaw(JSON.stringify({ t: 'ping', id: i }));
    expect(await errs).toStrictEqual({ t: 'err', c: 'message_rate_limited', m: expect.any(String) });
    // A real wait: nothing more may arrive for the dropped frames.
    await sleep(100);
    expect(socket.frames.filter((f) => f.t === 'pong').map((f) => f.id)).toEqual([1, 2, 3, 4, 5]);
    expect(socket.frames.filter((f) => f.t === 'err')).toHaveLength(1);
    expect(socket.closed).toBeUndefined();
    // The bucket refills: after a pause (on the server's clock) the connection works again.
    skewMs += 600;
    await pingPong(socket, 100);
  });

  it('closes a connection that keeps flooding with 4503', async () => {
    const server = await res.server({ realtimeLimits: { messagesPerSecond: 2, messageBurst: 5 } });
    const socket = await res.open(server);
    for (let i = 1; i <= 30; i += 1) socket.sendRaw(JSON.stringify({ t: 'ping', id: i }));
    const closed = await socket.whenClosed();
    expect(closed.code).toBe(4503);
    expect(closed.reason).toBe('message_rate_limited');
    // The warning, then the error the close comes with.
    expect(socket.frames.filter((f) => f.t === 'err')).toStrictEqual([
      { t: 'err', c: 'message_rate_limited', m: expect.any(String) },
      { t: 'err', c: 'message_rate_limited', m: expect.any(String) },
    ]);
    expect(socket.frames.filter((f) => f.t === 'pong').length).toBeLessThanOrEqual(5);
    await until(() => server.social.gateway.stats().connections === 0, 'flooder freed', 3_000);
  });

  it('answers every frame it admitted before a flood, in order, before the 4503 close', async () => {
    const server = await res.server({ realtimeLimits: { messagesPerSecond: 2, messageBurst: 5 } });
    const socket = await res.open(server);
    for (let i = 1; i <= 30; i += 1) socket.sendRaw(JSON.stringify({ t: 'ping', id: i }));
    expect((await socket.whenClosed()).code).toBe(4503);
    expect(socket.frames.filter((f) => f.t === 'pong').map((f) => f.id)).toEqual([1, 2, 3, 4, 5]);
    // The close's own error is the last frame before the close.
    expect(socket.frames.at(-1)).toMatchObject({ t: 'err', c: 'message_rate_limited' });
    await until(() => server.social.gateway.stats().connections === 0, 'flooder freed', 3_000);
  });

  it('closes with 4010 after more than maxInvalidFrames invalid frames', async () => {
    const server = await res.server({ realtimeLimits: { maxInvalidFrames: 3 } });
    const socket = await res.open(server);
    for (const raw of ['nope', '{"t":"x","id":1}', '[]']) socket.sendRaw(raw);
    await until(() => socket.frames.length === 3, 'three errors', 2_000);
    expect(socket.frames.map((f) => f.c)).toEqual(['malformed_frame', 'invalid_frame', 'malformed_frame']);
    expect(socket.closed).toBeUndefined();
    socket.sendRaw('{"t":"sub","id":9}');
    const closed = await socket.whenClosed();
    expect(closed.code).toBe(4010);
    expect(socket.frames.at(-1)).toMatchObject({ t: 'err', id: 9, c: 'protocol_violation' });
  });
});

describe('admission before the upgrade', () => {
  it('refuses a third connection from one IP with 429 too_many_connections and Retry-After', async () => {
    const server = await res.server({ realtimeLimits: { maxConnectionsPerIp: 2 } });
    const first = await res.open(server);
    await res.open(server);
    expectRefused(await handshake(server), 429, 'too_many_connections', true);
    expect(server.social.gateway.stats()).toMatchObject({ connections: 2, ips: 1 });
    first.close();
    await until(() => server.social.gateway.stats().connections === 1, 'first freed', 3_000);
    await res.open(server);
  });

  it('refuses a handshake burst over handshakesPerIpPerSecond (burst 2x) with 429 handshake_rate_limited', async () => {
    const server = await res.server({ realtimeLimits: { handshakesPerIpPerSecond: 1 } });
    expect((await handshake(server)).status).toBe(101);
    expect((await handshake(server)).status).toBe(101);
    expectRefused(await handshake(server), 429, 'handshake_rate_limited', true);
  });

  it('holds handshakes over the node-wide rate for their turn (2 s of the rate at most), and refuses the rest with 503 server_busy', async () => {
    const server = await res.server({ realtimeLimits: { newConnectionsPerSecond: 1 } });
    await res.open(server);
    const started = Date.now();
    const attempts = await Promise.all([0, 1, 2, 3].map(async () => {
      const answer = await handshake(server);
      return { answer, ms: Date.now() - started };
    }));
    const admitted = attempts.filter((a) => a.answer.status === 101);
    const refused = attempts.filter((a) => a.answer.status !== 101);
    // The queue holds two seconds of the rate (2 handshakes): the others are refused at once (and
    // the second waiting one is let in at ~2 s or refused when its 2 s are up, whichever is first)...
    expect(refused.length).toBeGreaterThanOrEqual(2);
    expect(refused.some((a) => a.ms < 500)).toBe(true);
    for (const { answer } of refused) expectRefused(answer, 503, 'server_busy', true);
    // ...and the first waiting one is let in when the rate allows, a second later.
    expect(admitted.length).toBeGreaterThanOrEqual(1);
    expect(Math.min(...admitted.map((a) => a.ms))).toBeGreaterThanOrEqual(700);
  });

  it('does not let one address fill the wait for the node-wide rate beyond its own handshake budget', async () => {
    const server = await res.server({ env: { TANDEM_TRUST_PROXY: '1' }, realtimeLimits: { newConnectionsPerSecond: 1, handshakesPerIpPerSecond: 1 } });
    const from = (ip: string) => handshake(server, { headers: { 'x-forwarded-for': ip } });
    expect((await from('203.0.113.7')).status).toBe(101);
    // The node's pace is spent; this address has one handshake of its burst (2) left: one may wait.
    const waiting = from('203.0.113.7');
    expectRefused(await from('203.0.113.7'), 503, 'server_busy', true);
    expect((await waiting).status).toBe(101);
  });

  it('does not let one IP\'s refused handshakes spend the node-wide budget of everyone else', async () => {
    const server = await res.server({ env: { TANDEM_TRUST_PROXY: '1' }, realtimeLimits: { handshakesPerIpPerSecond: 1, newConnectionsPerSecond: 3 } });
    const from = (ip: string) => handshake(server, { headers: { 'x-forwarded-for': ip } });
    expect((await from('203.0.113.7')).status).toBe(101);
    expect((await from('203.0.113.7')).status).toBe(101);
    for (let i = 0; i < 5; i += 1) expect((await from('203.0.113.7')).code).toBe('handshake_rate_limited');
    // The node took 2 connections of its 3 per second: another client still gets in.
    expect((await from('198.51.100.4')).status).toBe(101);
  });

  it('allows maxConnectionsPerUser per user: the next auth gets too_many_connections and close 4503', async () => {
    const server = await res.server({ realtimeLimits: { maxConnectionsPerUser: 1 } });
    const [alice] = (await users(server, 1)) as [TestUser];
    const first = await res.connect(server, alice.accessToken);
    const second = await res.open(server);
    expectErr(await second.request({ t: 'auth', tok: alice.accessToken }), 'too_many_connections', 1);
    expect((await second.whenClosed()).code).toBe(4503);
    expect((await first.request({ t: 'sub', ch: 'feed' })).t).toBe('ack');
    expect(server.social.gateway.stats()).toMatchObject({ connections: 1, users: 1, sessions: 1 });
    // The slot is the user's again once the first connection is gone.
    first.close();
    await until(() => server.social.gateway.stats().users === 0, 'user freed', 3_000);
    await res.connect(server, alice.accessToken);
  });

  it('refuses a foreign Origin with 403; accepts TANDEM_CORS_ORIGINS, the same origin, and no Origin', async () => {
    const server = await res.server({ env: { TANDEM_CORS_ORIGINS: 'https://app.example.com' } });
    expectRefused(await handshake(server, { headers: { origin: 'https://evil.example.com' } }), 403, 'origin_forbidden', false);
    expectRefused(await handshake(server, { headers: { origin: 'null' } }), 403, 'origin_forbidden', false);
    expectRefused(await handshake(server, { headers: { origin: 'https://app.example.com.evil.com' } }), 403, 'origin_forbidden', false);
    expect(server.social.gateway.stats()).toEqual(zero);
    const allowed = await res.open(server, { headers: { origin: 'https://app.example.com' } });
    const same = await res.open(server, { headers: { origin: server.url } });
    const none = await res.open(server);
    for (const [i, socket] of [allowed, same, none].entries()) await pingPong(socket, i + 1);
  });

  it('refuses a handshake without tandem.v1 with 400 unsupported_subprotocol', async () => {
    const server = await res.server();
    expectRefused(await handshake(server, { protocol: null }), 400, 'unsupported_subprotocol', false);
    expectRefused(await handshake(server, { protocol: 'chat.v2' }), 400, 'unsupported_subprotocol', false);
    expectRefused(await handshake(server, { protocol: 'tandem.v2, tandem' }), 400, 'unsupported_subprotocol', false);
    const offered = await handshake(server, { protocol: 'chat.v2, tandem.v1' });
    expect(offered.status).toBe(101);
    expect(offered.headers['sec-websocket-protocol']).toBe('tandem.v1');
  });

  it('answers an upgrade on another path with 404', async () => {
    const server = await res.server();
    for (const path of ['/', '/realtime/x', '/api/realtime', '/realtimex']) {
      const answer = await handshake(server, { path });
      expect(answer.status).toBe(404);
    }
    expect((await handshake(server, { path: '/realtime?v=1' })).status).toBe(101);
  });

  it('survives peers that reset the connection while being refused (no uncaught ECONNRESET)', async () => {
    const server = await res.server();
    const { port } = new URL(server.url);
    const request = 'GET /realtime HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n'
      + 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Protocol: tandem.v1\r\nOrigin: https://evil.example.com\r\n\r\n';
    for (let i = 0; i < 100; i += 1) {
      const socket = net.connect(Number(port), '127.0.0.1');
      await new Promise((resolve) => socket.once('connect', resolve));
      // Unread bytes make the server's write of the 403 meet a reset.
      socket.write(request + 'x'.repeat(50_000));
      socket.resetAndDestroy();
    }
    // A real wait: the server's writes must really meet those resets (an uncaught ECONNRESET would fail the run).
    await sleep(300);
    expect((await server.request('/api/posts')).status).toBe(200);
    expect(server.social.gateway.stats()).toEqual(zero);
  });

  it('allocates nothing for a refused handshake', async () => {
    const server = await res.server({ realtimeLimits: { handshakesPerIpPerSecond: 1 } });
    const refusals = [
      handshake(server, { headers: { origin: 'https://evil.example.com' } }),
      handshake(server, { protocol: null }),
      handshake(server, { path: '/nope' }),
    ];
    for (const answer of await Promise.all(refusals)) expect(answer.status).toBeGreaterThanOrEqual(400);
    // A real wait: the refused sockets must really have left nothing behind.
    await sleep(50);
    expect(server.social.gateway.stats()).toEqual(zero);
    expect(server.social.hub.stats()).toMatchObject({ subscribers: 0, subscriptions: 0 });
    // None of them spent the IP's handshake budget either (burst 2).
    expect((await handshake(server)).status).toBe(101);
    expect((await handshake(server)).status).toBe(101);
    const limited = await handshake(server);
    expect(limited.code).toBe('handshake_rate_limited');
    await until(() => server.social.gateway.stats().connections === 0, 'closed handshakes freed', 3_000);
    expect(server.social.gateway.stats()).toEqual(zero);
  });
});
