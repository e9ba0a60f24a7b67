import fc from 'fast-check';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeClientFrame } from '../../src/protocol/codec';
import { libraryErrors } from '../../src/server/errors';

const errorCodes = Object.keys(libraryErrors);
import { TestSocket } from '../support/realtime';
import { registerUser, startServer, type TestServer, type TestUser } from '../support/server';
import { sleep, until } from '../support/wait';

/**
 * Hostile frames against one real server, from one socket, while a bystander on another socket
 * keeps working. Whatever is sent (random text, random JSON, random `t`, valid-looking frames
 * with wrong field types, huge numbers, deep nesting, unicode, binary, oversized, invalid UTF-8),
 * the server does not crash, every message it sends is well-formed tandem.v1 (one JSON object
 * per line, a known `t`, the documented fields), every answer carries an id the client sent and
 * every request that expects an answer gets exactly one, and a close carries a documented code.
 * Set TANDEM_FUZZ_RUNS to scale the run count (e.g. 10 for a long soak).
 */

const RUN_SCALE = Number(process.env.TANDEM_FUZZ_RUNS ?? 1);
const runs = (n: number) => Math.max(1, Math.round(n * RUN_SCALE));
const MAX_ID = 2 ** 31 - 1;
const MAX_PAYLOAD = 64 * 1024;

/** Close codes docs/protocol.md lists, plus 1007 (RFC 6455: a text frame that is not UTF-8). */
const DOCUMENTED_CLOSES = new Set([1000, 1007, 1009, 1012, 4001, 4003, 4009, 4010, 4500, 4501, 4502, 4503]);
const CHANNEL = /^[a-z]+(:[A-Za-z0-9_.-]{1,64})?$/;
const catalog = new Set<string>(errorCodes);

let server: TestServer;
let fuzzer: TestUser;
let other: TestUser;
let writer: TestUser;
let conversationId: number;
let postId: number;

beforeAll(async () => {
  server = await startServer({
    realtimeLimits: {
      handshakesPerIpPerSecond: 10_000, newConnectionsPerSecond: 10_000, maxConnectionsPerIp: 10_000, maxConnectionsPerUser: 1_000,
      // Rate limiting has its own test below; here every fuzzed frame should reach the parser.
      messagesPerSecond: 10_000, messageBurst: 1_000,
    },
    realtimeTickMs: 20,
  });
  fuzzer = await registerUser(server);
  other = await registerUser(server);
  writer = await registerUser(server);
  const conversation = await server.request('/api/conversations', { method: 'POST', token: fuzzer.accessToken, json: { members: [other.username] } });
  conversationId = ((await conversation.json()) as { id: number }).id;
  const post = await server.request('/api/posts', { method: 'POST', token: writer.accessToken, json: { body: 'fuzz target' } });
  postId = ((await post.json()) as { id: number }).id;
});
afterAll(() => server.close());

// ---------------------------------------------------------------------------------------------
// The raw client: keeps every line the server sent, unparsed, and checks them afterwards.

interface Received {
  lines: string[];
  binary: number;
  closed: { code: number; reason: string } | undefined;
}

class RawClient {
  readonly ws: WebSocket;
  readonly received: Received = { lines: [], binary: 0, closed: undefined };
  #onLine: Array<(line: string) => void> = [];
  #onClose: Array<() => void> = [];

  private constructor(ws: WebSocket) {
    this.ws = ws;
    ws.on('message', (data, isBinary) => {
      if (isBinary) this.received.binary += 1;
      for (const line of data.toString().split('\n')) {
        this.received.lines.push(line);
        for (const listener of this.#onLine) listener(line);
      }
    });
    ws.on('close', (code, reason) => {
      this.received.closed = { code, reason: reason.toString() };
      for (const listener of this.#onClose) listener();
    });
    ws.on('error', () => {});
  }

  static async open(): Promise<RawClient> {
    const ws = new WebSocket(`${server.url.replace('http', 'ws')}/realtime`, 'tandem.v1');
    const client = new RawClient(ws);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    return client;
  }

  get open(): boolean {
    return this.ws.readyState === WebSocket.OPEN && this.received.closed === undefined;
  }

  /** Resolves with true once a line passes `test`, false once the socket closed first. */
  waitFor(test: (line: string) => boolean, timeoutMs = 5_000): Promise<boolean> {
    if (this.received.lines.some(test)) return Promise.resolve(true);
    if (this.received.closed !== undefined) return Promise.resolve(false);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms; last lines: ${this.received.lines.slice(-5).join(' | ').slice(0, 2_000)}`)), timeoutMs);
      this.#onLine.push((line) => test(line) && (clearTimeout(timer), resolve(true)));
      this.#onClose.push(() => (clearTimeout(timer), resolve(false)));
    });
  }

  whenClosed(timeoutMs = 5_000): Promise<void> {
    if (this.received.closed !== undefined) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('the server did not close the socket')), timeoutMs);
      this.#onClose.push(() => (clearTimeout(timer), resolve()));
    });
  }

  terminate(): void {
    if (this.ws.readyState !== WebSocket.CLOSED) this.ws.terminate();
  }
}

/** A problem with one line the server sent, or undefined when it is a well-formed frame. */
function frameProblem(line: string): string | undefined {
  let frame: unknown;
  try {
    frame = JSON.parse(line);
  } catch {
    return 'not JSON';
  }
  if (typeof frame !== 'object' || frame === null || Array.isArray(frame)) return 'not an object';
  const f = frame as Record<string, unknown>;
  const keys = Object.keys(f);
  const only = (...allowed: string[]) => keys.every((k) => allowed.includes(k));
  const isId = (v: unknown) => Number.isInteger(v) && (v as number) >= 1 && (v as number) <= MAX_ID;
  const isChannel = (v: unknown) => typeof v === 'string' && CHANNEL.test(v);
  switch (f.t) {
    case 'ack':
      return only('t', 'id', 'd') && isId(f.id) ? undefined : 'bad ack';
    case 'err':
      if (!only('t', 'id', 'c', 'm')) return 'err with unknown fields';
      if (f.id !== undefined && !isId(f.id)) return `err with an id outside 1..2^31-1: ${JSON.stringify(f.id)}`;
      if (typeof f.c !== 'string' || !catalog.has(f.c)) return `err code not in the catalog: ${String(f.c)}`;
      return typeof f.m === 'string' ? undefined : 'err without a message';
    case 'pong':
      return only('t', 'id') && (f.id === undefined || isId(f.id)) ? undefined : 'bad pong';
    case 'pub':
      return only('t', 'ch', 'o', 'ev', 'd') && isChannel(f.ch) && typeof f.ev === 'string' && (f.o === undefined || (Number.isInteger(f.o) && (f.o as number) >= 1))
        ? undefined : 'bad pub';
    case 'join':
    case 'leave': {
      const u = f.u as Record<string, unknown> | undefined;
      return only('t', 'ch', 'u') && isChannel(f.ch) && typeof u === 'object' && u !== null && Number.isInteger(u.id) && typeof u.n === 'string' ? undefined : 'bad presence frame';
    }
    case 'exp':
      return only('t', 'in') && Number.isInteger(f.in) ? undefined : 'bad exp';
    default:
      return `unknown frame type ${JSON.stringify(f.t)}`;
  }
}

// ---------------------------------------------------------------------------------------------
// Generators.

type Outgoing = { kind: 'text'; text: string } | { kind: 'binary'; bytes: Buffer } | { kind: 'invalid-utf8'; bytes: Buffer };

const validId = fc.integer({ min: 1, max: 2 ** 30 });
const wrongId = fc.oneof(
  fc.constantFrom(0, -1, 2 ** 31, 2 ** 53, 2 ** 53 + 2, 1.5, -0.0001, 1e308, Number.MAX_VALUE, '1', '', null, true, [], {}),
  fc.double(),
  fc.string({ maxLength: 5 }),
);
const anyId = fc.oneof({ weight: 4, arbitrary: validId }, { weight: 1, arbitrary: wrongId });
const channelName = () => fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom('feed', 'online', `post:${postId}`, `conversation:${conversationId}`, `user:${fuzzer.id}`) },
  { weight: 2, arbitrary: fc.constantFrom('post:999999', `user:${other.id}`, 'conversation:999999', 'nosuch', 'feed:1', 'post:abc', 'post:0', 'post:01', 'post:99999999999', 'POST:1', 'online:x', '', 'a'.repeat(200), 'constructor', '__proto__', 'post:__proto__') },
  { weight: 1, arbitrary: fc.stringMatching(/^[a-z]{1,8}(:[A-Za-z0-9_.-]{1,8})?$/) },
  { weight: 1, arbitrary: fc.oneof(fc.string({ unit: 'grapheme', maxLength: 10 }), fc.integer(), fc.constant(null), fc.array(fc.string(), { maxLength: 2 })) },
);
const eventName = fc.oneof(fc.constantFrom('typing', 'comment.created', 'x', 'Typing', '', '1'), fc.string({ maxLength: 70 }));
const anyJson = fc.jsonValue({ maxDepth: 3 });
const since = fc.oneof(
  fc.record({ e: fc.oneof(fc.string({ maxLength: 70 }), fc.integer()), o: fc.oneof(fc.nat(), fc.integer({ min: -5, max: -1 }), fc.constant(2 ** 53), fc.double(), fc.string()) }),
  anyJson,
);
const token = fc.oneof(fc.constant('@@fuzzer'), fc.constant('@@other'), fc.string({ maxLength: 40 }), fc.constant('eyJhbGciOiJIUzI1NiJ9.e30.x'), fc.constant(''), fc.integer());
const extra = fc.dictionary(fc.oneof(fc.constantFrom('x', '__proto__', 'constructor', 'tok', 'd'), fc.string({ maxLength: 6 })), anyJson, { maxKeys: 2 });

function withExtra<T extends Record<string, unknown>>(arb: fc.Arbitrary<T>): fc.Arbitrary<Record<string, unknown>> {
  return fc.tuple(arb, fc.option(extra, { freq: 5, nil: undefined })).map(([frame, more]) => (more === undefined ? frame : { ...more, ...frame }));
}

/** Frames shaped like the protocol's, each field either right or of a wrong type. */
const protocolish = () => withExtra(fc.oneof(
  fc.record({ t: fc.constant('ping'), id: anyId }, { requiredKeys: ['t'] }),
  fc.record({ t: fc.constant('auth'), id: anyId, tok: token }, { requiredKeys: ['t'] }),
  fc.record({ t: fc.constant('refresh'), id: anyId, tok: token }, { requiredKeys: ['t'] }),
  fc.record({ t: fc.constant('sub'), id: anyId, ch: channelName(), since }, { requiredKeys: ['t', 'id', 'ch'] }),
  fc.record({ t: fc.constant('unsub'), id: anyId, ch: channelName() }, { requiredKeys: ['t', 'id'] }),
  fc.record({ t: fc.constant('pub'), id: anyId, ch: channelName(), ev: eventName, d: fc.oneof(fc.record({ on: fc.oneof(fc.boolean(), anyJson) }), anyJson) }, { requiredKeys: ['t', 'ch', 'ev'] }),
  fc.record({ t: fc.oneof(fc.constantFrom('ack', 'err', 'pong', 'join', 'leave', 'exp', 'PING', 'Sub', '', 'toString', '__proto__', 'hasOwnProperty'), fc.string({ maxLength: 8 }), anyJson), id: anyId }),
));

/** Frames that are valid, so a run also does real work (subscribe, publish, refresh...). */
const valid = () => fc.oneof(
  fc.record({ t: fc.constant('ping'), id: validId }),
  fc.record({ t: fc.constant('sub'), id: validId, ch: fc.constantFrom('feed', 'online', `post:${postId}`, `conversation:${conversationId}`, `user:${fuzzer.id}`) }),
  fc.record({ t: fc.constant('unsub'), id: validId, ch: fc.constantFrom('feed', 'online', `post:${postId}`, `conversation:${conversationId}`) }),
  fc.record({ t: fc.constant('pub'), id: validId, ch: fc.constant(`conversation:${conversationId}`), ev: fc.constant('typing'), d: fc.record({ on: fc.boolean() }) }),
  fc.record({ t: fc.constant('refresh'), id: validId, tok: fc.constant('@@fuzzer') }),
);

const deep = fc.tuple(fc.integer({ min: 100, max: 30_000 }), fc.constantFrom('[', '{"a":')).map(([depth, open]) => {
  const close = open === '[' ? ']' : '}';
  return `${open.repeat(depth)}1${close.repeat(depth)}`;
});

const outgoing = (): fc.Arbitrary<Outgoing> => fc.oneof(
  { weight: 4, arbitrary: protocolish().map((f): Outgoing => ({ kind: 'text', text: JSON.stringify(f) })) },
  { weight: 4, arbitrary: valid().map((f): Outgoing => ({ kind: 'text', text: JSON.stringify(f) })) },
  { weight: 2, arbitrary: fc.oneof(fc.string({ maxLength: 200 }), fc.string({ unit: 'grapheme', maxLength: 100 }), fc.string({ unit: 'binary', maxLength: 100 })).map((text): Outgoing => ({ kind: 'text', text })) },
  { weight: 2, arbitrary: anyJson.map((v): Outgoing => ({ kind: 'text', text: JSON.stringify(v) })) },
  {
    weight: 1,
    arbitrary: fc.oneof(
      fc.constantFrom(
        '{"t":"ping","id":1e400}', '{"t":"ping","id":123456789012345678901234567890}', '{"t":"ping","id":-0}', '{"t":"ping","id":1.0}',
        '{"t":"sub","id":7,"ch":"feed","since":{"e":"x","o":1e400}}', '{"t":"sub","id":8,"ch":"feed","since":{"e":"x","o":9007199254740993}}',
        '{"t":"ping","id":5,"t":"auth"}', '{"t":"ping"} {"t":"ping"}', '{"t":"ping","id":3}\n{"t":"ping","id":4}', '\u0000', '', ' ', 'null', '[]', '"ping"',
        '{"__proto__":{"t":"ping"},"id":1}', '{"t":"sub","id":9,"ch":"feed","__proto__":{"since":{"e":"x","o":0}}}', '\uFEFF{"t":"ping","id":10}',
      ),
      deep.map((nested) => `{"t":"pub","id":11,"ch":"feed","ev":"x","d":${nested}}`),
      deep,
      fc.tuple(fc.string({ maxLength: 3 }), fc.integer({ min: 0, max: 2_000 })).map(([s, n]) => `{"t":"ping","id":12,"x":"${'\\u00e9'.repeat(n)}${s.replace(/["\\]/g, '')}"}`),
    ).map((text): Outgoing => ({ kind: 'text', text })),
  },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 200 }).map((bytes): Outgoing => ({ kind: 'binary', bytes: Buffer.from(bytes) })) },
);

/** Rare, connection-ending inputs: too big (1009), or text that is not UTF-8 (1007). */
const fatal = fc.oneof(
  fc.integer({ min: MAX_PAYLOAD + 1, max: MAX_PAYLOAD + 4_096 }).map((size): Outgoing => ({ kind: 'text', text: `{"t":"ping","id":1,"x":"${'x'.repeat(size)}"}` })),
  fc.constantFrom(Buffer.from([0xc3, 0x28]), Buffer.from([0xff, 0xfe, 0x7b, 0x7d]), Buffer.from('{"t":"ping","id":1,"x":"\xed\xa0\x80"}', 'latin1')).map((bytes): Outgoing => ({ kind: 'invalid-utf8', bytes })),
);

const scenario = () => fc.record({
  authenticate: fc.oneof({ weight: 5, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }),
  frames: fc.array(outgoing(), { minLength: 1, maxLength: 12 }),
  ending: fc.oneof({ weight: 14, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: fatal }),
});

function materialize(message: Outgoing): Outgoing {
  if (message.kind !== 'text') return message;
  return { kind: 'text', text: message.text.replaceAll('"@@fuzzer"', JSON.stringify(fuzzer.accessToken)).replaceAll('"@@other"', JSON.stringify(other.accessToken)) };
}

/** How many answers (ack/err/pong) carrying each id the server owes for what was sent. */
function owed(sent: readonly Outgoing[]): Map<number, number> {
  const counts = new Map<number, number>();
  for (const message of sent) {
    if (message.kind !== 'text') continue;
    // As the server reads it: UTF-8 bytes through a TextDecoder (which drops a leading BOM, as RFC 8259 allows).
    const decoded = decodeClientFrame(new TextDecoder().decode(Buffer.from(message.text)));
    const id = decoded.ok ? ('id' in decoded.frame ? decoded.frame.id : undefined) : decoded.id;
    if (id !== undefined) counts.set(id, (counts.get(id) ?? 0) + 1);
  }
  return counts;
}

// ---------------------------------------------------------------------------------------------
// The bystander: subscribed to the feed from the start, pinging, while a writer posts.

interface Bystander {
  socket: TestSocket;
  first: number;
  posts: number[];
  pongs: number;
  slowestPongMs: number;
  stop: () => Promise<void>;
}

async function startBystander(): Promise<Bystander> {
  const socket = await TestSocket.connect(server, other.accessToken);
  const sub = await socket.request({ t: 'sub', ch: 'feed' });
  expect(sub.t).toBe('ack');
  const state: Bystander = { socket, first: (sub.d as { o: number }).o, posts: [], pongs: 0, slowestPongMs: 0, stop: async () => {} };
  let running = true;
  const writing = (async () => {
    while (running) {
      const res = await server.request('/api/posts', { method: 'POST', token: writer.accessToken, json: { body: `p${state.posts.length}` } });
      expect(res.status).toBe(201);
      state.posts.push(((await res.json()) as { id: number }).id);
      await sleep(40);
    }
  })();
  let pingId = 1_000_000;
  const pinging = (async () => {
    while (running) {
      const id = ++pingId;
      const started = Date.now();
      const pong = socket.next((f) => f.t === 'pong' && f.id === id, 3_000);
      socket.sendRaw(JSON.stringify({ t: 'ping', id }));
      await pong;
      state.pongs += 1;
      state.slowestPongMs = Math.max(state.slowestPongMs, Date.now() - started);
      await sleep(50);
    }
  })();
  state.stop = async () => {
    running = false;
    await Promise.all([writing, pinging]);
  };
  return state;
}

describe('fuzzing the realtime endpoint', () => {
  it('answers any frame sequence with well-formed frames or a documented close; others are unaffected', async () => {
    const bystander = await startBystander();
    let client: RawClient | undefined;
    const seenCloses = new Map<number, number>();
    const seenErrors = new Set<string>();
    let sentinel = MAX_ID;
    let runCount = 0;
    let acks = 0;
    const started = Date.now();
    try {
      await fc.assert(
        fc.asyncProperty(scenario(), async ({ authenticate, frames, ending }) => {
          if (client === undefined || !client.open) {
            client?.terminate();
            client = await RawClient.open();
            if (authenticate) {
              client.ws.send(JSON.stringify({ t: 'auth', id: MAX_ID, tok: fuzzer.accessToken }));
              expect(await client.waitFor((line) => line.startsWith('{"t":"ack","id":2147483647'))).toBe(true);
            }
          }
          const c = client;
          runCount += 1;
          const linesBefore = c.received.lines.length;
          const sent = [...frames, ...(ending === undefined ? [] : [ending])].map(materialize);
          for (const message of sent) {
            if (message.kind === 'text') c.ws.send(message.text);
            else c.ws.send(message.bytes, { binary: message.kind === 'binary' });
          }
          // The sentinel: once its pong is back, every earlier frame was processed and answered.
          sentinel -= 1;
          const id = sentinel;
          c.ws.send(JSON.stringify({ t: 'ping', id }));
          const answered = await c.waitFor((line) => line === `{"t":"pong","id":${id}}`);
          if (!answered) await c.whenClosed();

          const lines = c.received.lines.slice(linesBefore);
          for (const line of lines) expect(frameProblem(line), line.slice(0, 300)).toBeUndefined();
          expect(c.received.binary).toBe(0);
          const frames_ = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
          for (const frame of frames_) {
            if (frame.t === 'err') seenErrors.add(frame.c as string);
            if (frame.t === 'ack') acks += 1;
          }

          const due = owed(sent);
          const answers = new Map<number, number>();
          for (const frame of frames_) {
            if ((frame.t === 'ack' || frame.t === 'err' || frame.t === 'pong') && frame.id !== undefined && frame.id !== id) {
              answers.set(frame.id as number, (answers.get(frame.id as number) ?? 0) + 1);
            }
          }
          for (const [answerId, count] of answers) {
            expect(due.has(answerId), `an answer for id ${answerId}, which no frame carried`).toBe(true);
            expect(count, `answers for id ${answerId}`).toBeLessThanOrEqual(due.get(answerId)!);
          }
          if (answered) {
            // Still open: every request that expects an answer got exactly one.
            for (const [dueId, count] of due) expect(answers.get(dueId) ?? 0, `answers for id ${dueId}`).toBe(count);
          } else {
            const { code } = c.received.closed!;
            seenCloses.set(code, (seenCloses.get(code) ?? 0) + 1);
            expect(DOCUMENTED_CLOSES.has(code), `close code ${code} (${c.received.closed!.reason})`).toBe(true);
          }
          // A fatal frame must have ended the connection, with its own code.
          if (ending !== undefined && !answered) {
            expect([1007, 1009, 4001, 4010, 4503]).toContain(c.received.closed!.code);
          }
          if (ending !== undefined) expect(answered).toBe(false);
        }),
        { numRuns: runs(1_500), interruptAfterTimeLimit: 22_000 * RUN_SCALE, markInterruptAsFailure: false },
      );
    } finally {
      client?.terminate();
      await bystander.stop();
    }

    // The fuzz covered the interesting outcomes.
    expect([...seenCloses.keys()], JSON.stringify([...seenCloses])).toEqual(expect.arrayContaining([1009, 4010]));
    expect([...seenErrors]).toEqual(expect.arrayContaining(['malformed_frame', 'invalid_frame', 'protocol_violation', 'not_authenticated']));
    expect(acks).toBeGreaterThan(0);
    expect(runCount).toBeGreaterThanOrEqual(Math.min(runs(1_500), 100));
    expect(Date.now() - started).toBeLessThan(30_000 * RUN_SCALE);

    // The bystander kept working throughout: every ping answered promptly, every post received once, in order.
    expect(bystander.socket.closed).toBeUndefined();
    expect(bystander.pongs).toBeGreaterThan(10);
    expect(bystander.slowestPongMs).toBeLessThan(2_000);
    const expectedCount = bystander.posts.length;
    // The expectations below report what is missing, so a wait that runs out is not itself the failure.
    await until(() => bystander.socket.publications('feed').length >= expectedCount, 'every post on the bystander', 5_000).catch(() => undefined);
    const pubs = bystander.socket.publications('feed');
    expect(pubs.map((f) => f.o)).toEqual(Array.from({ length: expectedCount }, (_, i) => bystander.first + 1 + i));
    expect(pubs.map((f) => (f.d as { id: number }).id)).toEqual(bystander.posts);
    bystander.socket.close();

    // And the server still does its job for newcomers.
    const res = await server.request('/api/posts?limit=1');
    expect(res.status).toBe(200);
    const fresh = await TestSocket.connect(server, fuzzer.accessToken);
    expect(await fresh.request({ t: 'sub', ch: `post:${postId}` })).toMatchObject({ t: 'ack' });
    fresh.close();
  }, 60_000);

  it('a flood gets one rate-limit warning, then a 4503 close; the neighbour is untouched', async () => {
    const limited = await startServer({ realtimeLimits: { messagesPerSecond: 20, messageBurst: 40 } });
    try {
      const user = await registerUser(limited);
      const neighbour = await TestSocket.connect(limited, user.accessToken);
      const flooder = await TestSocket.connect(limited, user.accessToken);
      for (let i = 0; i < 500 && flooder.ws.readyState === WebSocket.OPEN; i += 1) flooder.sendRaw(JSON.stringify({ t: 'ping', id: i + 1 }));
      const closed = await flooder.whenClosed();
      expect(closed.code).toBe(4503);
      const warnings = flooder.frames.filter((f) => f.t === 'err');
      expect(warnings.map((f) => f.c)).toEqual(['message_rate_limited', 'message_rate_limited']);
      const pongs = flooder.frames.filter((f) => f.t === 'pong');
      // At most the burst is admitted, and what was admitted is answered before the close.
      expect(pongs.length).toBeLessThanOrEqual(41);
      const pong = neighbour.next((f) => f.t === 'pong' && f.id === 77);
      neighbour.sendRaw(JSON.stringify({ t: 'ping', id: 77 }));
      await pong;
      neighbour.close();
    } finally {
      await limited.close();
    }
  });
});
