/**
 * The Tandem storm clients (in the clients process): raw tandem.v1 connections over `ws`, each
 * from one of the source addresses (`localAddress`), authenticated with its own session and
 * subscribed to `feed`, tracking its position (epoch + newest contiguous offset).
 *
 * Armed, a client whose connection ends comes back as the SDK's RealtimeClient does, by the SDK's
 * own `decideReconnect` (reconnect-policy.ts): after a 1012 close its `retry_ms` hint, else the
 * SDK's full-jitter `Backoff` (0–500 ms, then 0–1 s, …), and at least `Retry-After` after a
 * refused handshake; then
 * `auth` and `sub` with `since` = its position. `rec: true` recovers (the missed publications
 * come in `pubs`); `rec: false` resyncs as `follow()` does: live publications are held, the feed
 * is read again over REST (GET /api/posts, from the same address), its `Tandem-Position` P
 * becomes the position, held publications up to P are the snapshot's (overlap), later ones apply.
 *
 * Counted per client: a live offset at or below its position (outside a resync's overlap) is a
 * duplicate; a jump over offsets, or a post missing from the resync's snapshot, is lost. A
 * client is back once subscribed again and recovered or resynced (at the channel's position of
 * that moment); the storm is over when every client is back and holds every offset up to the
 * target (the position after the last publication of the storm): one short of it is lost.
 */
import http from 'node:http';
import type { IncomingMessage } from 'node:http';
import { Backoff } from 'tandem/client';
import { WebSocket } from 'ws';
import { decideReconnect } from '../../src/client/realtime/reconnect-policy';
import type { TransportClose } from '../../src/client/realtime/transport';
import { framesOf, nowMicros, type SubscribeAck } from '../cluster/wire';
import { closeWs, onAttemptFailure } from '../common/ws';
import { bump, emptyStats, type StormStats } from './storm-stats';

const CHANNEL = 'feed';

interface Client {
  token: string;
  agent: http.Agent;
  address: string;
  ws: WebSocket | undefined;
  attempt: number;
  backoff: Backoff;
  epoch: string;
  last: number;
  subscribed: boolean;
  /** Set while a resync's REST read runs: the live offsets held meanwhile. */
  held: number[] | undefined;
  /** Live offsets at or below this are a resync's overlap, not duplicates. */
  overlapUpTo: number;
  outcome: 'recovered' | 'resynced' | undefined;
  doneAt: number | undefined;
}

const clients: Client[] = [];
const agents = new Map<string, http.Agent>();
let base = '';
let armed = false;
let target: number | undefined;
let stats: StormStats = emptyStats();
let onDone: (() => void) | undefined;

/**
 * Back: subscribed again, recovered or resynced (the resync's snapshot read), at the channel's
 * position of that moment. Whether it then also receives every later publication of the storm
 * is checked once the target is known (`behind` in waitTandem, counted as lost).
 */
function checkDone(client: Client): void {
  if (!armed || client.doneAt !== undefined || client.outcome === undefined || client.held !== undefined) return;
  client.doneAt = nowMicros();
  stats.doneAt.push(client.doneAt);
  bump(stats.outcomes, client.outcome);
  onDone?.();
}

const complete = () => target !== undefined && stats.doneAt.length === clients.length && clients.every((c) => c.last >= target!);

function applyLive(client: Client, offset: number): void {
  if (client.held !== undefined) return void client.held.push(offset);
  if (offset <= client.last) {
    if (offset <= client.overlapUpTo) stats.overlap++;
    else stats.duplicates++;
    return;
  }
  if (offset !== client.last + 1) stats.lost += offset - client.last - 1;
  client.last = offset;
}

/** GET /api/posts from the client's address until it answers 200; the snapshot replaces the position. */
async function resync(client: Client, missedFrom: number): Promise<void> {
  for (;;) {
    try {
      const { status, position, ids, retryAfterMs } = await readFeed(client.agent);
      if (status === 200) {
        // Post n is the feed's offset n (the bench's store has no other feed events): every post
        // after the old position up to P must be in the snapshot.
        const have = new Set(ids);
        for (let o = missedFrom + 1; o <= position; o++) if (!have.has(o)) stats.lost++;
        const held = client.held ?? [];
        client.held = undefined;
        client.overlapUpTo = position;
        client.last = Math.max(client.last, position);
        for (const offset of held) applyLive(client, offset);
        client.outcome = 'resynced';
        return checkDone(client);
      }
      bump(stats.restFailed, `REST ${status}`);
      await new Promise((r) => setTimeout(r, Math.max(retryAfterMs ?? 0, client.backoff.next())));
    } catch (error) {
      bump(stats.restFailed, `REST ${(error as NodeJS.ErrnoException).code ?? 'error'}`);
      await new Promise((r) => setTimeout(r, client.backoff.next()));
    }
    if (!armed) return;
  }
}

function readFeed(agent: http.Agent): Promise<{ status: number; position: number; ids: number[]; retryAfterMs?: number }> {
  return new Promise((resolve, reject) => {
    const req = http.get(`${base}/api/posts?limit=100`, { agent, timeout: 20_000 }, (res: IncomingMessage) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        const status = res.statusCode ?? 0;
        const retryAfter = Number(res.headers['retry-after']);
        if (status !== 200) return resolve({ status, position: 0, ids: [], ...(Number.isFinite(retryAfter) ? { retryAfterMs: retryAfter * 1000 } : {}) });
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { items: Array<{ id: number }> };
        resolve({ status, position: Number(res.headers['tandem-position']), ids: body.items.map((p) => p.id) });
      });
    });
    req.on('timeout', () => req.destroy(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' })));
    req.on('error', reject);
  });
}

function onSubscribed(client: Client, ack: SubscribeAck, recovering: boolean): void {
  client.subscribed = true;
  if (!recovering) {
    client.epoch = ack.e;
    client.last = ack.o;
    return;
  }
  if (ack.rec === true) {
    for (const pub of ack.pubs ?? []) applyLive(client, pub.o);
    client.outcome = 'recovered';
    return checkDone(client);
  }
  bump(stats.recoveryRefused, ack.why ?? 'none');
  const missedFrom = client.last;
  client.epoch = ack.e;
  client.held = [];
  void resync(client, missedFrom);
}

/** One attempt: resolves once subscribed, rejects (with the reason counted when armed) if it fails first. */
function connect(client: Client): Promise<void> {
  const attempt = ++client.attempt;
  const recovering = armed && client.epoch !== '';
  if (armed) stats.attempts++;
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${base.replace(/^http/, 'ws')}/realtime`, ['tandem.v1'], { perMessageDeflate: false, skipUTF8Validation: true, handshakeTimeout: 20_000, localAddress: client.address });
    client.ws = ws;
    let settled = false;
    const fail = (why: string, retryAfterMs?: number) => {
      ws.terminate();
      if (settled) return;
      settled = true;
      if (armed) bump(stats.failed, why);
      reject(Object.assign(new Error(why), { retryAfterMs }));
    };
    onAttemptFailure(ws, fail);
    ws.once('open', () => {
      client.backoff.markOpen();
      ws.send(JSON.stringify({ t: 'auth', id: 1, tok: client.token }));
      ws.send(JSON.stringify({ t: 'sub', id: 2, ch: CHANNEL, ...(recovering ? { since: { e: client.epoch, o: client.last } } : {}) }));
    });
    ws.on('message', (data: Buffer) => {
      if (client.attempt !== attempt) return;
      for (const frame of framesOf(data)) {
        if (frame.t === 'pub' && frame.ch === CHANNEL && typeof frame.o === 'number') applyLive(client, frame.o);
        else if (frame.t === 'err') return fail(`err ${String(frame.c)}`);
        else if (frame.t === 'ack' && frame.id === 2 && !settled) {
          settled = true;
          onSubscribed(client, frame.d as SubscribeAck, recovering);
          resolve();
        }
      }
      checkDone(client);
    });
    ws.on('close', (code, reason) => {
      fail(`closed (${code}) before subscribed`);
      if (client.attempt !== attempt || !client.subscribed) return;
      client.subscribed = false;
      if (armed) scheduleReconnect(client, { code, reason: reason.toString('utf8'), opened: true });
    });
  });
}

/** The SDK's own decision (reconnect-policy.ts): a 1012's hint, else the backoff's next delay, at least `Retry-After`. */
function scheduleReconnect(client: Client, close: TransportClose): void {
  const decision = decideReconnect(close, () => client.backoff.next());
  if (decision.kind === 'stop') return void bump(stats.failed, `stopped (${close.code})`);
  setTimeout(() => {
    if (!armed) return;
    connect(client).catch((error: { retryAfterMs?: number }) => {
      if (armed) scheduleReconnect(client, { code: 1006, reason: '', opened: false, ...(error.retryAfterMs === undefined ? {} : { retryAfterMs: error.retryAfterMs }) });
    });
  }, decision.delayMs);
}

/** Fetches `count` access tokens from the node's bench route, 500 at a time. */
async function fetchTokens(count: number): Promise<string[]> {
  const tokens: string[] = [];
  for (let from = 0; from < count; from += 500) {
    const response = await fetch(`${base}/bench/sessions?from=${from}&count=${Math.min(500, count - from)}`);
    if (!response.ok) throw new Error(`GET /bench/sessions: ${response.status} ${await response.text()}`);
    tokens.push(...((await response.json()) as string[]));
  }
  return tokens;
}

/**
 * Opens `count` clients to `baseUrl`, spread over `addresses`, each with its own session,
 * subscribed to the feed; `concurrency` handshakes at a time, each retried like a reconnect
 * (the node's admission control applies to the first connections too).
 */
export async function connectTandem(baseUrl: string, count: number, addresses: readonly string[], concurrency = 200): Promise<{ ms: number }> {
  base = baseUrl;
  const started = Date.now();
  const tokens = await fetchTokens(count);
  for (const address of addresses) if (!agents.has(address)) agents.set(address, new http.Agent({ keepAlive: true, maxSockets: 32, localAddress: address }));
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const i = next++;
      const address = addresses[i % addresses.length]!;
      const client: Client = { token: tokens[i]!, agent: agents.get(address)!, address, ws: undefined, attempt: 0, backoff: new Backoff(), epoch: '', last: 0, subscribed: false, held: undefined, overlapUpTo: 0, outcome: undefined, doneAt: undefined };
      for (let tries = 1; ; tries++) {
        try {
          await connect(client);
          break;
        } catch (error) {
          if (tries >= 50) throw error;
          await new Promise((r) => setTimeout(r, Math.max((error as { retryAfterMs?: number }).retryAfterMs ?? 0, client.backoff.next())));
        }
      }
      client.backoff.reset();
      clients.push(client);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return { ms: Date.now() - started };
}

/** Resolves once every client holds `offset` (the publications before the restart), or rejects after `timeoutMs`. */
export async function settleTandem(offset: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const behind = clients.filter((c) => c.last < offset).length;
    if (behind === 0) return;
    if (Date.now() > deadline) throw new Error(`${behind} clients did not reach offset ${offset}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** From now on a client whose connection ends comes back and recovers or resyncs; counters start over. */
export function armTandem(): StormStats {
  const before = stats;
  armed = true;
  target = undefined;
  stats = emptyStats();
  for (const client of clients) {
    client.outcome = undefined;
    client.doneAt = undefined;
  }
  return before;
}

export function setTandemTarget(offset: number): void {
  target = offset;
  onDone?.();
}

/**
 * Resolves with the counters once every client is back and holds the target offset, or after
 * `timeoutMs` (then a client that is back but short of the target has lost the difference).
 */
export function waitTandem(timeoutMs: number): Promise<StormStats> {
  return new Promise((resolve) => {
    let poll: NodeJS.Timeout | undefined;
    const finish = () => {
      if (onDone === undefined) return;
      clearTimeout(timer);
      clearInterval(poll);
      onDone = undefined;
      stats.clients = clients.length;
      stats.notBack = clients.filter((c) => c.doneAt === undefined).length;
      for (const c of clients) if (c.doneAt !== undefined && target !== undefined && c.last < target) stats.lost += target - c.last;
      resolve(stats);
    };
    const timer = setTimeout(finish, timeoutMs);
    onDone = () => {
      if (complete()) finish();
    };
    // A live publication can be the one that completes the last client: no event says so.
    poll = setInterval(() => onDone?.(), 50);
    onDone();
  });
}

/** Disarms and closes every client. */
export async function closeTandem(): Promise<void> {
  armed = false;
  const closing = clients.splice(0);
  await Promise.all(closing.map((client) => {
    client.attempt++;
    return client.ws === undefined ? undefined : closeWs(client.ws);
  }));
  for (const agent of agents.values()) agent.destroy();
  agents.clear();
}
