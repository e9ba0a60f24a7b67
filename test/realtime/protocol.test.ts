import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Frame, TestSocket } from '../support/realtime';
import type { TestServer, TestUser } from '../support/server';
import { sleep } from '../support/wait';
import { createPost, expectErr, openConversation, Resources, sendMessage, users } from './support';

const res = new Resources();
let server: TestServer;
let alice: TestUser;
let bob: TestUser;
let carol: TestUser;
let conversation: number;

beforeAll(async () => {
  server = await res.server();
  [alice, bob, carol] = (await users(server, 3)) as [TestUser, TestUser, TestUser];
  conversation = await openConversation(server, alice, bob);
});
afterEach(() => res.closeSockets());
afterAll(() => res.closeAll());

/** Sends a raw frame and resolves with the next err frame. */
async function errAfter(socket: TestSocket, raw: string | Buffer): Promise<Frame> {
  const answer = socket.next((f) => f.t === 'err');
  socket.sendRaw(raw);
  return answer;
}

/** A ping round trip: everything the server sent before the pong has arrived. */
let pingId = 1_000_000;
async function roundTrip(socket: TestSocket): Promise<void> {
  const id = ++pingId;
  const pong = socket.next((f) => f.t === 'pong' && f.id === id);
  socket.sendRaw(JSON.stringify({ t: 'ping', id }));
  await pong;
}

describe('client frames and their answers', () => {
  it('auth is acknowledged with the user id and the token expiry in Unix seconds', async () => {
    const socket = await res.open(server);
    const before = Math.floor(Date.now() / 1000);
    const ack = await socket.request({ t: 'auth', tok: alice.accessToken });
    expect(ack).toStrictEqual({ t: 'ack', id: 1, d: { uid: alice.id, exp: expect.any(Number) } });
    const exp = (ack.d as { exp: number }).exp;
    expect(Number.isInteger(exp)).toBe(true);
    // TANDEM_ACCESS_TOKEN_TTL defaults to 900 s; the token was issued at registration.
    expect(exp).toBeGreaterThan(before + 800);
    expect(exp).toBeLessThanOrEqual(before + 901);
  });

  it('sub is acknowledged with the channel position {e, o}; with since, rec and pubs too', async () => {
    const socket = await res.connect(server, alice.accessToken);
    const ack = await socket.request({ t: 'sub', ch: 'feed' });
    expect(ack.t).toBe('ack');
    const d = ack.d as { e: string; o: number; rec?: boolean };
    expect(typeof d.e).toBe('string');
    expect(Number.isInteger(d.o)).toBe(true);
    expect(d.rec).toBeUndefined();

    // TestSocket.next only sees future frames: wait before the write.
    const next = socket.next((f) => f.t === 'pub' && f.ch === 'feed');
    const post = await createPost(server, bob, 'offset me');
    const pub = await next;
    expect(pub).toMatchObject({ t: 'pub', ch: 'feed', o: d.o + 1, ev: 'post.created', d: { id: post.id } });

    const other = await res.connect(server, bob.accessToken);
    const recovered = await other.request({ t: 'sub', ch: 'feed', since: { e: d.e, o: d.o } });
    expect(recovered).toMatchObject({ t: 'ack', d: { e: d.e, o: d.o + 1, rec: true, pubs: [{ t: 'pub', ch: 'feed', o: d.o + 1, ev: 'post.created' }] } });
  });

  it('unsub is acknowledged without data and stops the publications', async () => {
    const socket = await res.connect(server, alice.accessToken);
    expect((await socket.request({ t: 'sub', ch: 'feed' })).t).toBe('ack');
    expect(await socket.request({ t: 'unsub', ch: 'feed' })).toStrictEqual({ t: 'ack', id: 3 });
    const watcher = await res.connect(server, carol.accessToken);
    await watcher.request({ t: 'sub', ch: 'feed' });
    const seen = watcher.next((f) => f.t === 'pub' && f.ch === 'feed');
    await createPost(server, bob, 'after unsub');
    await seen;
    await roundTrip(socket);
    expect(socket.publications('feed')).toEqual([]);
  });

  it('pub typing with an id is acknowledged; the other member gets it stamped, without offset; the sender does not', async () => {
    const channel = `conversation:${conversation}`;
    const a = await res.connect(server, alice.accessToken);
    const b = await res.connect(server, bob.accessToken);
    expect((await a.request({ t: 'sub', ch: channel })).t).toBe('ack');
    expect((await b.request({ t: 'sub', ch: channel })).t).toBe('ack');

    const lines: string[] = [];
    b.ws.on('message', (data) => lines.push(...data.toString().split('\n')));
    const received = b.next((f) => f.t === 'pub' && f.ev === 'typing');
    expect(await a.request({ t: 'pub', ch: channel, ev: 'typing', d: { on: true } })).toStrictEqual({ t: 'ack', id: 3 });
    expect(await received).toStrictEqual({ t: 'pub', ch: channel, ev: 'typing', d: { on: true, by: { id: alice.id, n: alice.username } } });
    expect(lines).toContain(`{"t":"pub","ch":"${channel}","ev":"typing","d":{"on":true,"by":{"id":${alice.id},"n":"${alice.username}"}}}`);

    // Without an id: delivered, and no answer.
    const second = b.next((f) => f.t === 'pub' && f.ev === 'typing' && (f.d as { on: boolean }).on === false);
    a.sendRaw(JSON.stringify({ t: 'pub', ch: channel, ev: 'typing', d: { on: false } }));
    expect((await second).o).toBeUndefined();
    await roundTrip(a);
    expect(a.frames.filter((f) => f.t === 'pub')).toEqual([]);
    expect(a.frames.filter((f) => f.t === 'ack' && f.id !== 1 && f.id !== 2 && f.id !== 3)).toEqual([]);
  });

  it('ping with an id gets a pong with that id; without, a bare pong', async () => {
    const socket = await res.connect(server, alice.accessToken);
    socket.sendRaw('{"t":"ping","id":42}');
    expect(await socket.next((f) => f.t === 'pong')).toStrictEqual({ t: 'pong', id: 42 });
    socket.sendRaw('{"t":"ping"}');
    expect(await socket.next((f) => f.t === 'pong' && f.id === undefined)).toStrictEqual({ t: 'pong' });
  });
});

describe('authentication state', () => {
  it('answers every request before auth with not_authenticated, keeping the connection', async () => {
    const socket = await res.open(server);
    expectErr(await socket.request({ t: 'sub', ch: 'feed' }), 'not_authenticated', 1);
    expectErr(await socket.request({ t: 'unsub', ch: 'feed' }), 'not_authenticated', 2);
    expectErr(await socket.request({ t: 'pub', ch: 'feed', ev: 'typing', d: { on: true } }), 'not_authenticated', 3);
    expectErr(await socket.request({ t: 'refresh', tok: alice.accessToken }), 'not_authenticated', 4);
    expect((await socket.request({ t: 'auth', tok: alice.accessToken })).t).toBe('ack');
    expect((await socket.request({ t: 'sub', ch: 'feed' })).t).toBe('ack');
  });

  it('refuses a second auth with already_authenticated', async () => {
    const socket = await res.connect(server, alice.accessToken);
    expectErr(await socket.request({ t: 'auth', tok: bob.accessToken }), 'already_authenticated', 2);
    await roundTrip(socket);
    expect(socket.closed).toBeUndefined();
  });
});

describe('invalid and malformed frames', () => {
  const invalid: Array<[string, string, number | undefined]> = [
    ['an unknown frame type', '{"t":"nope","id":5}', 5],
    ['a frame without a type', '{"id":6}', 6],
    ['a sub without id', '{"t":"sub","ch":"feed"}', undefined],
    ['an auth without id', '{"t":"auth","tok":"x"}', undefined],
    ['an unknown field', '{"t":"ping","id":7,"extra":1}', 7],
    ['an unknown field on sub', '{"t":"sub","id":8,"ch":"feed","x":true}', 8],
    ['a numeric channel', '{"t":"sub","id":9,"ch":42}', 9],
    ['a channel outside the grammar', '{"t":"sub","id":10,"ch":"Feed!"}', 10],
    ['a string id', '{"t":"sub","id":"11","ch":"feed"}', undefined],
    ['a non-integer id', '{"t":"ping","id":1.5}', undefined],
  ];
  for (const [what, raw, id] of invalid) {
    it(`answers ${what} with invalid_frame${id === undefined ? '' : ' echoing the id'}`, async () => {
      const socket = await res.connect(server, alice.accessToken);
      const err = await errAfter(socket, raw);
      expectErr(err, 'invalid_frame');
      if (id === undefined) expect('id' in err).toBe(false);
      else expect(err.id).toBe(id);
    });
  }

  it('answers wrong field types (auth token, since position, event name) with invalid_frame', async () => {
    const socket = await res.connect(server, alice.accessToken);
    for (const raw of ['{"t":"auth","id":20,"tok":5}', '{"t":"sub","id":21,"ch":"feed","since":{"e":"x","o":-1}}', '{"t":"pub","id":22,"ch":"feed","ev":"Bad Event"}', '{"t":"unsub","id":23}']) {
      const err = await errAfter(socket, raw);
      expectErr(err, 'invalid_frame', JSON.parse(raw).id);
    }
  });

  it('does not echo an id outside 1..2^31-1 (an err frame always carries a valid request id)', async () => {
    const socket = await res.connect(server, alice.accessToken);
    for (const raw of ['{"t":"ping","id":0}', '{"t":"ping","id":-3}', `{"t":"ping","id":${2 ** 31}}`]) {
      const err = await errAfter(socket, raw);
      expectErr(err, 'invalid_frame');
      expect('id' in err).toBe(false);
    }
  });

  it('answers non-JSON, non-object JSON and binary frames with malformed_frame, and stays usable', async () => {
    const socket = await res.connect(server, alice.accessToken);
    for (const raw of ['{oops', '', '[1,2]', '"text"', 'null', '7', Buffer.from('{"t":"ping","id":1}')]) {
      const err = await errAfter(socket, raw);
      expect(err).toStrictEqual({ t: 'err', c: 'malformed_frame', m: expect.any(String) });
    }
    expect(await socket.request({ t: 'sub', ch: 'feed' })).toMatchObject({ t: 'ack' });
  });
});

describe('coalescing', () => {
  it('writes the publications of one REST write as one newline-separated message, every time', async () => {
    const b = await res.connect(server, bob.accessToken);
    const raw: string[] = [];
    b.ws.on('message', (data) => raw.push(data.toString()));
    expect((await b.request({ t: 'sub', ch: `conversation:${conversation}` })).t).toBe('ack');
    expect((await b.request({ t: 'sub', ch: `user:${bob.id}` })).t).toBe('ack');
    // Ten writes: on a cluster a commit's publications cross Redis, and must still arrive together.
    for (let i = 0; i < 10; i += 1) {
      raw.length = 0;
      const both = Promise.all([
        b.next((f) => f.t === 'pub' && f.ch === `conversation:${conversation}` && f.ev === 'message.created' && (f.d as { body?: string }).body === `one write, several events ${i}`),
        b.next((f) => f.t === 'pub' && f.ch === `user:${bob.id}` && f.ev === 'message.created'),
      ]);
      await sendMessage(server, alice, conversation, `one write, several events ${i}`);
      await both;
      await sleep(30);
      expect(raw.length, `write ${i}`).toBe(1);
      const lines = raw[0]!.split('\n');
      expect(lines.length).toBeGreaterThanOrEqual(2);
      const frames = lines.map((line) => JSON.parse(line) as { t: string; ch: string; ev: string });
      expect(frames.every((f) => f.t === 'pub')).toBe(true);
      expect(frames.map((f) => f.ch)).toEqual(expect.arrayContaining([`conversation:${conversation}`, `user:${bob.id}`]));
    }
  });
});

describe('channel ACL and publish rules', () => {
  it('refuses user:<other> and a conversation you are not in with forbidden', async () => {
    const socket = await res.connect(server, carol.accessToken);
    expectErr(await socket.request({ t: 'sub', ch: `user:${alice.id}` }), 'forbidden', 2);
    expectErr(await socket.request({ t: 'sub', ch: `conversation:${conversation}` }), 'forbidden', 3);
    expect((await socket.request({ t: 'sub', ch: `user:${carol.id}` })).t).toBe('ack');
  });

  it('refuses post:<missing id> with forbidden and an unknown prefix with unknown_channel', async () => {
    const socket = await res.connect(server, alice.accessToken);
    expectErr(await socket.request({ t: 'sub', ch: 'post:987654321' }), 'forbidden', 2);
    expectErr(await socket.request({ t: 'sub', ch: 'post:abc' }), 'forbidden', 3);
    expectErr(await socket.request({ t: 'sub', ch: 'nosuch:1' }), 'unknown_channel', 4);
    expectErr(await socket.request({ t: 'sub', ch: 'nosuch' }), 'unknown_channel', 5);
  });

  it('checks client publications: publish_forbidden, invalid_payload, not_subscribed', async () => {
    const post = await createPost(server, alice, 'no typing here');
    const socket = await res.connect(server, alice.accessToken);
    const channel = `conversation:${conversation}`;
    expectErr(await socket.request({ t: 'pub', ch: channel, ev: 'typing', d: { on: true } }), 'not_subscribed', 2);
    expect((await socket.request({ t: 'sub', ch: `post:${post.id}` })).t).toBe('ack');
    expectErr(await socket.request({ t: 'pub', ch: `post:${post.id}`, ev: 'typing', d: { on: true } }), 'publish_forbidden', 4);
    expect((await socket.request({ t: 'sub', ch: channel })).t).toBe('ack');
    expectErr(await socket.request({ t: 'pub', ch: channel, ev: 'typing', d: { on: 'yes' } }), 'invalid_payload', 6);
    expectErr(await socket.request({ t: 'pub', ch: channel, ev: 'typing' }), 'invalid_payload', 7);
    expectErr(await socket.request({ t: 'pub', ch: channel, ev: 'typing', d: { on: true, by: { id: 1 } } }), 'invalid_payload', 8);
    expectErr(await socket.request({ t: 'pub', ch: channel, ev: 'message.created', d: {} }), 'publish_forbidden', 9);
  });

  it('refuses a second subscription to the same channel with already_subscribed', async () => {
    const socket = await res.connect(server, alice.accessToken);
    expect((await socket.request({ t: 'sub', ch: 'feed' })).t).toBe('ack');
    expectErr(await socket.request({ t: 'sub', ch: 'feed' }), 'already_subscribed', 3);
    expect((await socket.request({ t: 'unsub', ch: 'feed' })).t).toBe('ack');
    expect((await socket.request({ t: 'sub', ch: 'feed' })).t).toBe('ack');
  });

  it('refuses subscription 101 with too_many_subscriptions (hub default 100)', async () => {
    const posts = await Promise.all(Array.from({ length: 99 }, (_, i) => createPost(server, alice, `cap ${i}`)));
    const socket = await res.connect(server, alice.accessToken);
    const answers = await Promise.all([...posts.map((p) => `post:${p.id}`), 'feed'].map((ch) => socket.request({ t: 'sub', ch })));
    expect(answers.filter((a) => a.t !== 'ack')).toEqual([]);
    expect(server.social.hub.stats().subscriptions).toBe(100);
    expectErr(await socket.request({ t: 'sub', ch: 'online' }), 'too_many_subscriptions');
    expect((await socket.request({ t: 'unsub', ch: 'feed' })).t).toBe('ack');
    expect((await socket.request({ t: 'sub', ch: 'online' })).t).toBe('ack');
  });
});
