/**
 * The reactions bench's subscribers, in a process of their own (their CPU is not the server's):
 * N WebSocket connections, each its own user, each subscribed to `post:<id>` and `feed`, counting
 * what arrives: reactions.changed publications (per channel), WebSocket messages and their bytes,
 * and the post's latest like count seen on each channel. Driven over IPC by run.ts.
 */
import WebSocket from 'ws';
import { SUBPROTOCOL } from '../../src/protocol/wire';
import { closeWs } from '../common/ws';

type Command =
  | { id: number; cmd: 'connect'; url: string; tokens: string[]; postId: number }
  | { id: number; cmd: 'reset' }
  | { id: number; cmd: 'waitFinal'; likes: number; timeoutMs: number }
  | { id: number; cmd: 'stats' }
  | { id: number; cmd: 'close' };

interface Counter {
  ws: WebSocket;
  pubs: { post: number; feed: number };
  messages: number;
  bytes: number;
  likes: { post: number; feed: number };
  /** ms (performance.now()) when both channels showed the final count. */
  currentAt: number | undefined;
}

interface Changed { posts: Array<{ id: number; reactions: Record<string, number> }> }

const counters: Counter[] = [];
let postId = 0;
let target: { likes: number; resolve: () => void } | undefined;

function connectOne(url: string, token: string): Promise<Counter> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${url.replace(/^http/, 'ws')}/realtime`, SUBPROTOCOL, { perMessageDeflate: false });
    const counter: Counter = { ws, pubs: { post: 0, feed: 0 }, messages: 0, bytes: 0, likes: { post: 0, feed: 0 }, currentAt: undefined };
    let acks = 0;
    ws.once('error', reject);
    ws.once('open', () => {
      ws.send(JSON.stringify({ t: 'auth', tok: token, id: 1 }));
      ws.send(JSON.stringify({ t: 'sub', ch: `post:${postId}`, id: 2 }));
      ws.send(JSON.stringify({ t: 'sub', ch: 'feed', id: 3 }));
    });
    ws.on('message', (data: Buffer) => {
      counter.messages += 1;
      counter.bytes += data.length;
      for (const line of data.toString('utf8').split('\n')) {
        const frame = JSON.parse(line) as { t: string; id?: number; ch?: string; ev?: string; d?: unknown };
        if (frame.t === 'ack' && ++acks === 3) resolve(counter);
        if (frame.t === 'err') reject(new Error(`refused: ${line}`));
        if (frame.t !== 'pub' || frame.ev !== 'reactions.changed') continue;
        const channel = frame.ch === 'feed' ? 'feed' : 'post';
        counter.pubs[channel] += 1;
        const mine = (frame.d as Changed).posts.find((p) => p.id === postId);
        if (mine !== undefined) counter.likes[channel] = mine.reactions.like ?? 0;
        check(counter);
      }
    });
  });
}

function check(counter: Counter): void {
  if (target === undefined || counter.currentAt !== undefined) return;
  if (counter.likes.post === target.likes && counter.likes.feed === target.likes) counter.currentAt = performance.now();
  if (counters.every((c) => c.currentAt !== undefined)) target.resolve();
}

async function handle(message: Command): Promise<unknown> {
  switch (message.cmd) {
    case 'connect': {
      postId = message.postId;
      // A few at a time: the handshakes are not what is measured.
      for (let i = 0; i < message.tokens.length; i += 20) {
        counters.push(...(await Promise.all(message.tokens.slice(i, i + 20).map((token) => connectOne(message.url, token)))));
      }
      return counters.length;
    }
    case 'reset':
      for (const c of counters) Object.assign(c, { pubs: { post: 0, feed: 0 }, messages: 0, bytes: 0, currentAt: undefined });
      return null;
    case 'waitFinal': {
      const started = performance.now();
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`not every subscriber saw ${message.likes} likes within ${message.timeoutMs} ms`)), message.timeoutMs);
        target = { likes: message.likes, resolve: () => (clearTimeout(timer), resolve()) };
        for (const c of counters) check(c);
      });
      target = undefined;
      return { waitedMs: performance.now() - started, lastCurrentAt: Math.max(...counters.map((c) => c.currentAt ?? 0)), now: performance.now() };
    }
    case 'stats':
      return counters.map((c) => ({ pubsPost: c.pubs.post, pubsFeed: c.pubs.feed, messages: c.messages, bytes: c.bytes }));
    case 'close':
      await Promise.all(counters.map((c) => closeWs(c.ws)));
      setImmediate(() => process.exit(0));
      return null;
  }
}

process.on('message', (message: Command) => {
  handle(message).then(
    (result) => process.send?.({ id: message.id, ok: true, result }),
    (error: unknown) => process.send?.({ id: message.id, ok: false, error: String(error) }),
  );
});
process.on('disconnect', () => process.exit(0));
process.send?.({ ready: true });
