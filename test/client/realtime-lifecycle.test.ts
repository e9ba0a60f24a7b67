import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createPost, handshake, pauseReading } from '../realtime/support';
import { registerUser, startServer, type StartOptions, type TestServer } from '../support/server';
import { sleep, until } from '../support/wait';
import { Clients, collector, comment, nextState, RECONNECT_MS, roomyLimits } from './realtime-support';
import { singleNode } from '../support/target';

/**
 * How the RealtimeClient lives with the server: close codes that stop it, tokens refreshed over
 * the socket or on reconnect, dead connections found by its heartbeat, refused handshakes,
 * and a server restart that loses history (resync).
 */

const clients = new Clients();
const servers: TestServer[] = [];
async function server(options: StartOptions = {}): Promise<TestServer> {
  const started = await startServer({ realtimeTickMs: 20, ...options, realtimeLimits: { ...roomyLimits, ...options.realtimeLimits } });
  servers.push(started);
  return started;
}
afterEach(async () => {
  clients.closeAll();
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

/** A server on a data folder (and port) the test owns, so a second one can start on the same store and address. */
async function startOn(dataDir: string, port: number): Promise<TestServer & { port: number }> {
  const running = await startServer({ dataDir, port, realtimeLimits: roomyLimits });
  return Object.assign(running, { port: Number(new URL(running.url).port) });
}

describe.each(['websocket', 'sse'] as const)('over %s', (transport) => {
  describe('close codes that must not be retried', () => {
    it('a forged token: state closed with 4001 and no reconnect loop', async () => {
      const running = await server();
      const bob = await registerUser(running);
      const forged = `${bob.accessToken.slice(0, -6)}AAAAAA`;
      const { client, attempts, states, refreshes } = clients.create(running, bob, { transport, token: forged });
      client.connect();
      const closed = await nextState(client, 'closed');
      expect(closed).toMatchObject({ code: 4001, previous: 'connecting' });
      // A real wait: a client that wrongly retried would do so within its 200 ms backoff cap.
      await sleep(500);
      expect(attempts()).toBe(1);
      expect(refreshes.calls).toBe(0);
      expect(states.map((s) => s.state)).toEqual(['connecting', 'closed']);
    });

    it('a revoked session (logout elsewhere): closed with 4009, no retry', async () => {
      const running = await server();
      const bob = await registerUser(running);
      const { client, attempts } = clients.create(running, bob, { transport });
      client.connect();
      await nextState(client, 'open');
      const closed = nextState(client, 'closed');
      const res = await running.request('/api/auth/logout', { method: 'POST', token: bob.accessToken });
      expect(res.status).toBe(204);
      expect(await closed).toMatchObject({ code: 4009, previous: 'open' });
      // A real wait: a client that wrongly retried would do so within its 200 ms backoff cap.
      await sleep(300);
      expect(attempts()).toBe(1);
      expect(client.state).toBe('closed');
    });

    it('connect() after closed starts again', async () => {
      const running = await server();
      const bob = await registerUser(running);
      const { client } = clients.create(running, bob, { transport });
      client.connect();
      await nextState(client, 'open');
      client.disconnect();
      expect(client.state).toBe('closed');
      client.connect();
      await nextState(client, 'open');
    });
  });

  describe('token expiry', () => {
    /** A server whose clock the test moves forward (token issue and expiry both read it). */
    async function skewedServer() {
      const skew = { ms: 0 };
      const running = await server({ clock: () => Date.now() + skew.ms });
      return { running, skew };
    }

    it('the exp warning → a refreshed token in a refresh frame → the connection outlives the old token, no gap', async () => {
      const { running, skew } = await skewedServer();
      const alice = await registerUser(running);
      const bob = await registerUser(running);
      const post = await createPost(running, alice);
      const { client, tokens, attempts, states, sent, refreshes } = clients.create(running, bob, { transport });
      const seen = collector();
      const subscription = client.subscribe(`post:${post.id}`, seen.handler);
      client.connect();
      await until(() => subscription.state === 'live', 'live', RECONNECT_MS);
      for (let i = 1; i <= 3; i += 1) await comment(running, alice, post.id, `before ${i}`);
      await until(() => seen.messages.length === 3, 'three comments', RECONNECT_MS);

      skew.ms = (running.config.auth.accessTokenTtlSeconds - 30) * 1000; // inside the 60 s warning window
      await until(() => sent.some((s) => s.frame.t === 'refresh'), 'a refresh frame', RECONNECT_MS);
      expect(refreshes.calls).toBe(1);
      const refresh = sent.find((s) => s.frame.t === 'refresh')!.frame;
      expect(refresh.tok).toBe(tokens.current!.accessToken);
      expect(refresh.tok).not.toBe(bob.accessToken);
      // A real wait: the refresh frame's ack has no event of its own; let it land before the clock moves.
      await sleep(100);

      skew.ms += 60_000; // the first token is now 30 s past expiry (grace: 5 s)
      // A real wait of ten 20 ms ticks: a server still holding the old token would close now.
      await sleep(200);
      const writer = await registerUser(running); // alice's token expired too
      for (let i = 4; i <= 6; i += 1) await comment(running, writer, post.id, `after ${i}`);
      await until(() => seen.messages.length === 6, 'six comments', RECONNECT_MS);
      expect(seen.offsets()).toEqual([1, 2, 3, 4, 5, 6]);
      expect(attempts()).toBe(1);
      expect(states.map((s) => s.state)).toEqual(['connecting', 'open']);
    });

    it('a refresh that failed: closed with 4501, reconnects with a new token (never the rejected one) and recovers the gap', async () => {
      const { running, skew } = await skewedServer();
      const bob = await registerUser(running);
      const alice = await registerUser(running);
      const post = await createPost(running, alice);
      const { client, sent, states, refreshes } = clients.create(running, bob, { transport });
      const errors: string[] = [];
      client.on('error', (error) => errors.push(error.code));
      const seen = collector();
      const subscription = client.subscribe(`post:${post.id}`, seen.handler);
      client.connect();
      await until(() => subscription.state === 'live', 'live', RECONNECT_MS);
      await comment(running, alice, post.id, 'one');
      await until(() => seen.messages.length === 1, 'one comment', RECONNECT_MS);

      refreshes.failNext = 1;
      skew.ms = (running.config.auth.accessTokenTtlSeconds - 30) * 1000;
      await until(() => errors.includes('token_refresh_failed'), 'the failed refresh reported', RECONNECT_MS);
      const writer = await registerUser(running);
      const reconnecting = nextState(client, 'reconnecting');
      skew.ms += 60_000;
      expect(await reconnecting).toMatchObject({ code: 4501 });
      // Listening before the write: on a slower server the client may be open again by the time it returns.
      const reopened = nextState(client, 'open');
      await comment(running, writer, post.id, 'two, while reconnecting');
      await reopened;
      await comment(running, writer, post.id, 'three');
      await until(() => seen.messages.length === 3, 'three comments', RECONNECT_MS);
      expect(seen.offsets()).toEqual([1, 2, 3]);

      const auths = sent.filter((s) => s.frame.t === 'auth');
      expect(auths).toHaveLength(2);
      expect(auths[1]!.frame.tok).not.toBe(auths[0]!.frame.tok);
      expect(states.map((s) => s.state)).toEqual(['connecting', 'open', 'reconnecting', 'connecting', 'open']);
      const resubscribe = sent.filter((s) => s.frame.t === 'sub')[1]!.frame;
      expect(resubscribe.since).toMatchObject({ o: 1 });
    });
  });

  describe('dead connections and refused handshakes', () => {
    it('a handshake refused with 429 and Retry-After: the next attempt waits that long', async () => {
      const running = await server({ realtimeLimits: { handshakesPerIpPerSecond: 1 } });
      const bob = await registerUser(running);
      // Use up this IP's handshake burst (2).
      while ((await handshake(running)).status === 101);
      const { client, attempts } = clients.create(running, bob, { transport });
      const started = Date.now();
      client.connect();
      const reconnecting = await nextState(client, 'reconnecting');
      expect(reconnecting.nextAttemptAt! - started).toBeGreaterThanOrEqual(900);
      await nextState(client, 'open', 5_000);
      expect(Date.now() - started).toBeGreaterThanOrEqual(900);
      expect(attempts()).toBe(2);
    });
  });

  singleNode('restarts one process on its SQLite file; a cluster keeps the history in Redis').describe('a server restart (memory broker: the history is lost)', () => {
    it('1012 → reconnect after retry_ms → resync with the new epoch, REST agrees on the position, live publications continue', async () => {
      const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tandem-client-restart-'));
      let running: Awaited<ReturnType<typeof startOn>> | undefined;
      try {
        running = await startOn(dataDir, 0);
        const port = running.port;
        const writer = await registerUser(running as unknown as TestServer);
        const reader = await registerUser(running as unknown as TestServer);
        const post = (await (await running.request('/api/posts', { method: 'POST', token: writer.accessToken, json: { body: 'x' } })).json()) as { id: number };
        const channel = `post:${post.id}`;
        const { client, states } = clients.create(running, reader, { transport });
        const seen = collector();
        const resyncs: Array<{ channel: string; e: string; o: number; why: string }> = [];
        client.on('resync', (ch, position, why) => resyncs.push({ channel: ch, ...position, why }));
        const subscription = client.subscribe(channel, seen.handler);
        client.connect();
        await until(() => subscription.state === 'live', 'live', RECONNECT_MS);
        const oldEpoch = subscription.position!.e;
        for (let i = 1; i <= 3; i += 1) await comment(running, writer, post.id, `c${i}`);
        await until(() => seen.messages.length === 3, 'three comments', RECONNECT_MS);

        const reconnecting = nextState(client, 'reconnecting');
        const closedAt = Date.now();
        await running.close();
        running = undefined;
        const restart = await reconnecting;
        expect(restart.code).toBe(1012);
        expect(restart.nextAttemptAt! - closedAt).toBeLessThanOrEqual(5_500);
        running = await startOn(dataDir, port);

        await until(() => resyncs.length === 1, 'the resync', 15_000);
        expect(resyncs[0]).toMatchObject({ channel, o: 3, why: 'epoch_changed' });
        expect(resyncs[0]!.e).not.toBe(oldEpoch);
        expect(subscription.position).toEqual({ e: resyncs[0]!.e, o: 3 });
        // The app refetches over REST: the list is at the position the resync reported.
        const list = await running.request(`/api/posts/${post.id}/comments`);
        expect(list.headers.get('tandem-position')).toBe('3');

        const writerAgain = await registerUser(running as unknown as TestServer);
        await comment(running, writerAgain, post.id, 'after the restart');
        await until(() => seen.messages.length === 4, 'the live comment', RECONNECT_MS);
        expect(seen.offsets()).toEqual([1, 2, 3, 4]);
        expect(states.filter((s) => s.state === 'open').length).toBeGreaterThanOrEqual(2);
      } finally {
        clients.closeAll();
        await running?.close();
        fs.rmSync(dataDir, { recursive: true, force: true });
      }
    }, 30_000);
  });
});

describe('a WebSocket that dies silently', () => {
  it('pings keep a healthy connection; silence for two intervals is a dead connection → reconnect', async () => {
    const running = await server();
    const bob = await registerUser(running);
    const { client, sockets, states } = clients.create(running, bob, { heartbeatIntervalMs: 100 });
    client.connect();
    await nextState(client, 'open');
    // A real wait: five of the client's 100 ms heartbeats must pass on a real socket.
    await sleep(500);
    expect(states.map((s) => s.state)).toEqual(['connecting', 'open']);
    expect(sockets).toHaveLength(1);

    // The socket stays up but nothing more is read from it: a connection that died silently.
    pauseReading(sockets[0]!);
    const reconnecting = await nextState(client, 'reconnecting', 2_000);
    expect(reconnecting).toMatchObject({ code: 1006, reason: 'heartbeat_timeout' });
    await nextState(client, 'open');
    expect(sockets).toHaveLength(2);
  });

});
