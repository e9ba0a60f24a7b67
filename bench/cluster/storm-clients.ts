/**
 * The reconnect-storm clients (inside the load-clients process): N raw tandem.v1 connections to
 * node B, each subscribed to the storm channel and tracking its position (epoch + newest
 * contiguous offset). Armed, a client whose connection drops reconnects as the SDK does: after
 * the SDK's full-jitter backoff (0–500 ms, then 0–1 s, …; `Backoff` from tandem/client), at least
 * `Retry-After` after a refused handshake, to `reconnectBase` (nginx or node A), then `auth` and
 * `sub` with `since` = its position. It has recovered when the `sub` answered `rec: true` and it
 * holds every offset up to the target (the last publication made while B was dead), whether from
 * the recovery's `pubs` or live; `rec: false` (a resync) is counted as a failure to recover.
 */
import { Backoff } from 'tandem/client';
import type { WebSocket } from 'ws';
import { framesOf, nowMicros, percentile, tandemSocket, type SubscribeAck } from './wire';
import { closeWs, onAttemptFailure } from '../common/ws';

export interface StormConnect {
  base: string;
  tokens: readonly string[];
  channel: string;
  concurrency: number;
}

export interface StormResult {
  clients: number;
  /** Clients subscribed again after the kill (recovered or not). */
  back: number;
  recovered: number;
  /** `sub` answers with rec: false, by `why`. */
  recoveryRefused: Record<string, number>;
  /** nowMicros() of the last close the clients noticed, and of recoveries (first, p50, p99, last). */
  lastCloseAt: number | null;
  recoveredAt: { first: number | null; p50: number | null; p99: number | null; last: number | null };
  /** Connection attempts after the kill, and why those that failed did ('HTTP 503', 'ECONNRESET', 'err auth_timeout', …). */
  attempts: number;
  failed: Record<string, number>;
  duplicates: number;
  gaps: number;
}

interface Client {
  token: string;
  ws: WebSocket | undefined;
  attempt: number;
  backoff: Backoff;
  epoch: string;
  last: number;
  subscribed: boolean;
  /** The `sub` after the kill answered: true/false = rec, undefined = not yet. */
  rec: boolean | undefined;
  closedAt: number | undefined;
  recoveredAt: number | undefined;
}

const clients: Client[] = [];
let channel = '';
let armed = false;
let reconnectBase = '';
let target: number | undefined;
let stats = { attempts: 0, failed: {} as Record<string, number>, recoveryRefused: {} as Record<string, number>, duplicates: 0, gaps: 0 };
let onChange: (() => void) | undefined;

const bump = (counts: Record<string, number>, key: string) => void (counts[key] = (counts[key] ?? 0) + 1);

function checkRecovered(client: Client): void {
  if (client.recoveredAt !== undefined || client.rec !== true || target === undefined || client.last < target) return;
  client.recoveredAt = nowMicros();
  onChange?.();
}

function apply(client: Client, offset: number): void {
  if (offset <= client.last) stats.duplicates++;
  else {
    if (offset !== client.last + 1) stats.gaps++;
    client.last = offset;
  }
}

function onFrames(client: Client, data: Buffer, armedAttempt: boolean, ready: () => void, fail: (why: string) => void): void {
  for (const frame of framesOf(data)) {
    if (frame.t === 'pub' && frame.ch === channel && typeof frame.o === 'number') apply(client, frame.o);
    else if (frame.t === 'err') {
      return fail(`err ${String(frame.c)}`);
    } else if (frame.t === 'ack' && frame.id === 2) {
      const ack = frame.d as SubscribeAck;
      if (armedAttempt) {
        client.rec = ack.rec === true;
        if (ack.rec === true) for (const pub of ack.pubs ?? []) apply(client, pub.o);
        else bump(stats.recoveryRefused, ack.why ?? 'none');
      }
      if (!armedAttempt || ack.rec !== true) {
        client.epoch = ack.e;
        client.last = ack.o;
      }
      client.subscribed = true;
      ready();
      if (armedAttempt) onChange?.();
    }
  }
  checkRecovered(client);
}

/**
 * One connection attempt of `client` to `base`: auth, then sub (with `since` after the kill).
 * Resolves when subscribed; rejects when the attempt fails before that. Events of an older
 * attempt are ignored (the attempt number).
 */
function connect(client: Client, base: string): Promise<void> {
  const attempt = ++client.attempt;
  const armedAttempt = armed;
  if (armedAttempt) stats.attempts++;
  return new Promise((resolve, reject) => {
    const ws = tandemSocket(base);
    client.ws = ws;
    let settled = false;
    const current = () => client.attempt === attempt;
    /** Ends the attempt once, counting why (after the kill). */
    const fail = (why: string, retryAfterMs?: number) => {
      ws.terminate();
      if (settled) return;
      settled = true;
      if (armedAttempt) bump(stats.failed, why);
      reject(Object.assign(new Error(why), { retryAfterMs }));
    };
    onAttemptFailure(ws, fail);
    ws.once('open', () => {
      client.backoff.markOpen();
      ws.send(JSON.stringify({ t: 'auth', id: 1, tok: client.token }));
      const since = armedAttempt ? { since: { e: client.epoch, o: client.last } } : {};
      ws.send(JSON.stringify({ t: 'sub', id: 2, ch: channel, ...since }));
    });
    ws.on('message', (data: Buffer) => {
      if (!current()) return;
      onFrames(client, data, armedAttempt, () => {
        if (settled) return;
        settled = true;
        resolve();
      }, fail);
    });
    ws.on('close', (code) => {
      fail(`closed (${code}) before subscribed`);
      if (!current() || !client.subscribed) return;
      client.subscribed = false;
      if (armed) {
        client.closedAt ??= nowMicros();
        scheduleReconnect(client, undefined);
      }
    });
  });
}

function scheduleReconnect(client: Client, retryAfterMs: number | undefined): void {
  if (!armed) return;
  const delay = Math.max(retryAfterMs ?? 0, client.backoff.next());
  setTimeout(() => {
    if (!armed) return;
    connect(client, reconnectBase).catch((error: { retryAfterMs?: number }) => scheduleReconnect(client, error.retryAfterMs));
  }, delay);
}

/** Opens one connection per token to `base` (node B) and subscribes each to `channel`, `concurrency` at a time. */
export async function connectStorm(spec: StormConnect): Promise<{ connected: number; ms: number }> {
  const started = Date.now();
  channel = spec.channel;
  let next = 0;
  const worker = async () => {
    while (next < spec.tokens.length) {
      const client: Client = { token: spec.tokens[next++]!, ws: undefined, attempt: 0, backoff: new Backoff(), epoch: '', last: 0, subscribed: false, rec: undefined, closedAt: undefined, recoveredAt: undefined };
      for (let tries = 1; ; tries++) {
        try {
          await connect(client, spec.base);
          break;
        } catch (error) {
          if (tries >= 5) throw error;
          await new Promise((r) => setTimeout(r, 100 * tries));
        }
      }
      clients.push(client);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, spec.concurrency) }, worker));
  return { connected: clients.length, ms: Date.now() - started };
}

/** Resolves once every client holds `offset` (the publications before the kill), or rejects after `timeoutMs`. */
export function settleStorm(offset: number, timeoutMs: number): Promise<{ epochs: number }> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const check = () => {
      const behind = clients.filter((c) => c.last < offset).length;
      if (behind === 0) return resolve({ epochs: new Set(clients.map((c) => c.epoch)).size });
      if (Date.now() - started > timeoutMs) return reject(new Error(`${behind} storm clients did not reach offset ${offset}`));
      setTimeout(check, 20);
    };
    check();
  });
}

/** From now on a dropped connection reconnects to `base` and recovers. */
export function armStorm(base: string): void {
  armed = true;
  reconnectBase = base;
  target = undefined;
  stats = { attempts: 0, failed: {}, recoveryRefused: {}, duplicates: 0, gaps: 0 };
  for (const client of clients) {
    client.backoff.reset();
    client.rec = undefined;
    client.closedAt = undefined;
    client.recoveredAt = undefined;
  }
}

export function setStormTarget(offset: number): void {
  target = offset;
  for (const client of clients) checkRecovered(client);
}

/** Resolves once every client has recovered (or all are back and some cannot), or after `timeoutMs`. */
export function waitStorm(timeoutMs: number): Promise<StormResult> {
  return new Promise((resolve) => {
    const finish = () => {
      clearTimeout(timer);
      onChange = undefined;
      const recovered = clients.map((c) => c.recoveredAt).filter((t): t is number => t !== undefined).sort((a, b) => a - b);
      const closes = clients.map((c) => c.closedAt).filter((t): t is number => t !== undefined);
      resolve({
        clients: clients.length,
        back: clients.filter((c) => c.rec !== undefined).length,
        recovered: recovered.length,
        recoveryRefused: stats.recoveryRefused,
        lastCloseAt: closes.length === 0 ? null : Math.max(...closes),
        recoveredAt: { first: recovered[0] ?? null, p50: percentile(recovered, 50), p99: percentile(recovered, 99), last: recovered.at(-1) ?? null },
        attempts: stats.attempts,
        failed: stats.failed,
        duplicates: stats.duplicates,
        gaps: stats.gaps,
      });
    };
    const settledAll = () => clients.every((c) => c.recoveredAt !== undefined || (c.rec === false && target !== undefined));
    const timer = setTimeout(finish, timeoutMs);
    onChange = () => {
      if (settledAll()) finish();
    };
    if (settledAll()) finish();
  });
}

/** Disarms and closes every storm connection. */
export async function closeStorm(): Promise<void> {
  armed = false;
  const closing = clients.splice(0);
  await Promise.all(closing.map((client) => {
    client.attempt++;
    return client.ws === undefined ? undefined : closeWs(client.ws);
  }));
}
