import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { PresenceUser } from '../../src/protocol/frames';
import { openConversation } from '../realtime/support';
import { registerUser, startServer, type TestServer, type TestUser } from '../support/server';
import { eventually, until } from '../support/wait';
import { Clients, collector, nextState, RECONNECT_MS, roomyLimits } from './realtime-support';

/** Presence kept current per subscription, and ephemeral publications (typing), over a real server. */

const GRACE_MS = 100;
let server: TestServer;
let alice: TestUser;
let bob: TestUser;
const clients = new Clients();

beforeAll(async () => {
  server = await startServer({ env: { TANDEM_PRESENCE_GRACE_MS: String(GRACE_MS) }, realtimeLimits: roomyLimits, realtimeTickMs: 20 });
  alice = await registerUser(server);
  bob = await registerUser(server);
});
afterEach(() => clients.closeAll());
afterAll(() => server.close());

const ids = (users: readonly PresenceUser[] | undefined) => (users ?? []).map((u) => u.id);

describe.each(['websocket', 'sse'] as const)('presence and typing on a conversation, over %s', (transport) => {
  it('the snapshot follows joins and leaves; typing arrives as an ephemeral message without an offset', async () => {
    const conversation = await openConversation(server, alice, bob);
    const channel = `conversation:${conversation}`;
    const a = clients.create(server, alice, { transport });
    const events: string[] = [];
    const aliceSeen = collector();
    const subscription = a.client.subscribe(channel, aliceSeen.handler);
    subscription.on('join', (u) => events.push(`join ${u.id}`));
    subscription.on('leave', (u) => events.push(`leave ${u.id}`));
    a.client.connect();
    await until(() => subscription.state === 'live', 'alice live', RECONNECT_MS);
    expect(ids(subscription.presence.users)).toEqual([alice.id]);

    const b = clients.create(server, bob, { transport });
    const bobSeen = collector();
    const bobSubscription = b.client.subscribe(channel, bobSeen.handler);
    b.client.connect();
    await until(() => bobSubscription.state === 'live', 'bob live', RECONNECT_MS);
    await until(() => subscription.presence.users?.length === 2, 'bob in the snapshot', RECONNECT_MS);
    expect(ids(subscription.presence.users)).toEqual([alice.id, bob.id].sort((x, y) => x - y));
    expect(subscription.presence.count).toBe(2);

    await b.client.publish(channel, 'typing', { on: true });
    await until(() => aliceSeen.messages.length === 1, 'the typing event', RECONNECT_MS);
    expect(aliceSeen.messages[0]).toEqual({ channel, event: 'typing', data: expect.objectContaining({ on: true }) });
    expect(aliceSeen.messages[0]!.offset).toBeUndefined();

    b.client.disconnect();
    await until(() => events.length === 3, 'bob leaves after the grace period', RECONNECT_MS);
    // The first snapshot is heard as joins too (alice sees herself), then bob's join and leave.
    expect(events).toEqual([`join ${alice.id}`, `join ${bob.id}`, `leave ${bob.id}`]);
    expect(ids(subscription.presence.users)).toEqual([alice.id]);
  });

  it('after a reconnect the new snapshot replaces the old one, and the difference is emitted', async () => {
    const conversation = await openConversation(server, alice, bob);
    const channel = `conversation:${conversation}`;
    const b = clients.create(server, bob, { transport });
    b.client.subscribe(channel, () => {});
    b.client.connect();
    await nextState(b.client, 'open');

    // A fixed 400 ms reconnect delay: long enough for bob's leave to happen while alice is away.
    const a = clients.create(server, alice, { transport, backoff: { baseMs: 400, capMs: 400 }, random: () => 0.999 });
    const subscription = a.client.subscribe(channel, () => {});
    a.client.connect();
    await until(() => subscription.presence.users?.length === 2, 'both online', RECONNECT_MS);
    const leaves: number[] = [];
    subscription.on('leave', (u) => leaves.push(u.id));

    // Alice drops; while she is away bob leaves for good (past the grace period).
    if (transport === 'websocket') a.sockets[0]!.terminate();
    else server.social.gateway.closeSession(a.sessionId, 4500, 'test'); // a cut SSE stream would just resume
    await nextState(a.client, 'reconnecting');
    b.client.disconnect();
    // Bob's leave on the server (his grace over) is the condition, rather than a fixed 3 × the grace.
    const bobGone = async () => !((await server.social.hub.presence(channel)) as PresenceUser[]).some((u) => u.id === bob.id);
    await eventually(bobGone, 'bob gone for good', RECONNECT_MS);
    expect(a.client.state).toBe('reconnecting');
    await nextState(a.client, 'open');
    await until(() => leaves.length === 1, 'the leave from the snapshot difference', RECONNECT_MS);
    expect(leaves).toEqual([bob.id]);
    expect(ids(subscription.presence.users)).toEqual([alice.id]);
  });

  it('publish is not queued: it rejects with not_connected unless open', async () => {
    const a = clients.create(server, alice, { transport });
    await expect(a.client.publish('conversation:1', 'typing', {})).rejects.toMatchObject({ code: 'not_connected' });
  });

  it('a refused subscription fails with the server code and frees the channel', async () => {
    const conversation = await openConversation(server, alice, bob);
    const outsider = await registerUser(server);
    const c = clients.create(server, outsider, { transport });
    const errors: string[] = [];
    const subscription = c.client.subscribe(`conversation:${conversation}`, () => {});
    subscription.on('error', (e) => errors.push(e.code));
    c.client.connect();
    await until(() => subscription.state === 'failed', 'the refusal', RECONNECT_MS);
    expect(errors).toEqual(['forbidden']);
    expect(c.client.subscription(`conversation:${conversation}`)).toBeUndefined();
    expect(c.client.state).toBe('open');
  });
});
