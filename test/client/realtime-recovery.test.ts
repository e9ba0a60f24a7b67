import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createPost } from '../realtime/support';
import { registerUser, startServer, type TestServer, type TestUser } from '../support/server';
import { sleep, until } from '../support/wait';
import { Clients, collector, comment, nextState, range, RECONNECT_MS, roomyLimits, writeComments } from './realtime-support';

/**
 * The RealtimeClient against a real server: publications arrive once and in order across
 * connections the server (or the network) kills at random points while REST writes go on.
 */

let server: TestServer;
let alice: TestUser;
let bob: TestUser;
const clients = new Clients();

beforeAll(async () => {
  server = await startServer({ realtimeLimits: roomyLimits, realtimeTickMs: 20 });
  alice = await registerUser(server);
  bob = await registerUser(server);
});
afterEach(() => clients.closeAll());
afterAll(() => server.close());

describe.each(['websocket', 'sse'] as const)('over %s', (transport) => {
  describe('subscribing', () => {
    it('connects, subscribes and receives publications with their offsets and events', async () => {
      const post = await createPost(server, alice);
      const { client, states } = clients.create(server, bob, { transport });
      const seen = collector();
      const subscription = client.subscribe(`post:${post.id}`, seen.handler);
      client.connect();
      await until(() => subscription.state === 'live', 'the subscription to go live', RECONNECT_MS);
      expect(states.map((s) => s.state)).toEqual(['connecting', 'open']);
      expect(subscription.position).toMatchObject({ o: 0 });

      for (let i = 1; i <= 5; i += 1) await comment(server, alice, post.id, `hello ${i}`);
      await until(() => seen.messages.length === 5, 'five comments', RECONNECT_MS);
      expect(seen.offsets()).toEqual([1, 2, 3, 4, 5]);
      expect(seen.messages[0]).toMatchObject({ channel: `post:${post.id}`, event: 'comment.created', offset: 1, data: { body: 'hello 1' } });
      expect(subscription.position).toMatchObject({ o: 5 });
    });

    it('a subscription made while open goes live at once; unsubscribe stops delivery', async () => {
      const post = await createPost(server, alice);
      const { client } = clients.create(server, bob, { transport });
      client.connect();
      await nextState(client, 'open');
      const seen = collector();
      const subscription = client.subscribe(`post:${post.id}`, seen.handler);
      await until(() => subscription.state === 'live', 'live', RECONNECT_MS);
      await comment(server, alice, post.id, 'one');
      await until(() => seen.messages.length === 1, 'one comment', RECONNECT_MS);
      subscription.unsubscribe();
      expect(subscription.state).toBe('unsubscribed');
      expect(client.subscription(`post:${post.id}`)).toBeUndefined();
      await comment(server, alice, post.id, 'two');
      await sleep(100);
      expect(seen.offsets()).toEqual([1]);
    });

    it('subscribe with since (the snapshot handoff) delivers only what follows that position', async () => {
      const post = await createPost(server, alice);
      for (let i = 1; i <= 4; i += 1) await comment(server, alice, post.id, `c${i}`);
      const list = await server.request(`/api/posts/${post.id}/comments`);
      const position = Number(list.headers.get('tandem-position'));
      expect(position).toBe(4);
      // The epoch comes from an earlier subscription (or a Tandem-Epoch header where the server sends one).
      const probe = clients.create(server, bob, { transport });
      const epoch = await new Promise<string>((resolve) => {
        const sub = probe.client.subscribe(`post:${post.id}`, () => {});
        sub.on('state', ({ state }) => state === 'live' && resolve(sub.position!.e));
        probe.client.connect();
      });
      await comment(server, alice, post.id, 'c5');
      await comment(server, alice, post.id, 'c6');

      const { client } = clients.create(server, bob, { transport });
      const seen = collector();
      client.subscribe(`post:${post.id}`, seen.handler, { since: { e: epoch, o: position } });
      client.connect();
      await comment(server, alice, post.id, 'c7');
      await until(() => seen.messages.length === 3, 'the two missed and one live comment', RECONNECT_MS);
      expect(seen.offsets()).toEqual([5, 6, 7]);
      expect(seen.messages.map((m) => (m.data as { body: string }).body)).toEqual(['c5', 'c6', 'c7']);
    });
  });

  describe('connections killed mid-stream while REST writes keep flowing', () => {
    /**
     * Five times at random points, the connection dies (alternately: the server closes the
     * session with 4500, or the client's TCP socket is destroyed) while four writers keep
     * commenting. The app must see 1..total exactly once each, in order, with no resync.
     */
    it('every publication arrives exactly once, in order, with consecutive offsets', async () => {
      const post = await createPost(server, alice);
      const channel = `post:${post.id}`;
      const { client, states, sessionId, streams, attempts, cut } = clients.create(server, bob, { transport });
      const seen = collector();
      const resyncs: string[] = [];
      client.on('resync', (ch) => resyncs.push(ch));
      const subscription = client.subscribe(channel, seen.handler);
      client.connect();
      await until(() => subscription.state === 'live', 'live', RECONNECT_MS);

      const total = 150;
      const writer = writeComments(server, alice, post.id, total, 4, 8);
      for (let round = 0; round < 5; round += 1) {
        const target = seen.messages.length + 3 + Math.floor(Math.random() * 15);
        await until(() => seen.messages.length >= Math.min(target, total - 10), `publication ${target}`, RECONNECT_MS);
        const opensBefore = states.filter((s) => s.state === 'open').length;
        const resumesBefore = streams.filter((s) => s.resume && s.status === 200).length;
        if (round % 2 === 0) server.social.gateway.closeSession(sessionId, 4500, 'test');
        else cut();
        // A cut WebSocket reconnects; a cut SSE stream resumes (Last-Event-ID) without a reconnect.
        if (round % 2 === 1 && transport === 'sse') await until(() => streams.filter((s) => s.resume && s.status === 200).length > resumesBefore, `resume ${round + 1}`, RECONNECT_MS);
        else await until(() => states.filter((s) => s.state === 'open').length > opensBefore, `reconnect ${round + 1}`, RECONNECT_MS);
      }
      await writer.done;
      await until(() => seen.messages.length >= total, `all ${total} publications`, 15_000);
      await sleep(50);

      expect(seen.offsets()).toEqual(range(1, total));
      expect(resyncs).toEqual([]);
      const codes = states.filter((s) => s.state === 'reconnecting').map((s) => s.code);
      if (transport === 'websocket') {
        expect(attempts()).toBe(6);
        expect(codes).toEqual([4500, 1006, 4500, 1006, 4500]);
      } else {
        expect(attempts()).toBe(4);
        expect(codes).toEqual([4500, 4500, 4500]);
        expect(streams.filter((s) => s.resume).map((s) => s.status)).toEqual([200, 200]);
      }
    }, 30_000);

    it('the state is observable: connecting → open → reconnecting (with the next attempt time) → connecting → open', async () => {
      const { client, states, sockets, attempts, sessionId } = clients.create(server, bob, { transport, backoff: { baseMs: 200, capMs: 200 } });
      client.connect();
      await nextState(client, 'open');
      const before = Date.now();
      // WebSocket: the TCP connection dies. SSE (where a cut stream resumes): the server ends the connection.
      if (transport === 'websocket') sockets[0]!.terminate();
      else server.social.gateway.closeSession(sessionId, 4500, 'test');
      const reconnecting = await nextState(client, 'reconnecting');
      expect(reconnecting).toMatchObject({ state: 'reconnecting', previous: 'open', code: transport === 'websocket' ? 1006 : 4500 });
      expect(reconnecting.nextAttemptAt).toBeGreaterThanOrEqual(before);
      expect(reconnecting.nextAttemptAt).toBeLessThanOrEqual(Date.now() + 200);
      await nextState(client, 'open');
      expect(states.map((s) => s.state)).toEqual(['connecting', 'open', 'reconnecting', 'connecting', 'open']);
      client.disconnect();
      expect(states.at(-1)).toMatchObject({ state: 'closed', code: 1000, reason: 'client_disconnect' });
      await sleep(300);
      expect(attempts()).toBe(2);
    });
  });
});
