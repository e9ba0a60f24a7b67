/**
 * The load clients: one process (pinned to the other core) holding every bench connection,
 * driven by run.ts over IPC. It opens N connections to one server, authenticates and subscribes
 * (Tandem), joins the room (Socket.IO), then counts deliveries and measures publish-to-deliver
 * latency from the `ts` the server stamped (CLOCK_MONOTONIC, shared by both processes).
 *
 * All three servers are loaded with plain `ws` clients so the client-side cost per message is the
 * same for all three. Socket.IO is spoken at the wire level (Engine.IO v4 / Socket.IO v5:
 * `0{…}` open → `40` connect → `40{…}` ack, `2` ping → `3` pong, `42[…]` events); the first
 * `officialSocketIo` connections use the real socket.io-client instead, as a check that the
 * server treats both alike (they are counted like the others).
 *
 * Counting: Tandem coalesces frames into one message separated by '\n' (docs/protocol.md), so a
 * Tandem message counts 1 + its newlines; a bare-ws or Socket.IO message is one delivery.
 * Latency is parsed on a sample of connections (every `sampleEvery`-th) to keep the client cheap.
 *
 * tandem-sse: Tandem's SSE fallback, with the clients of sse-client.ts.
 */
import { io as ioClient, type Socket } from 'socket.io-client';
import { WebSocket } from 'ws';
import { nowMicros } from './common';
import { closeWs, countFrames } from '../common/ws';
import { openSse } from './sse-client';

export type ServerKind = 'tandem' | 'ws' | 'socketio' | 'ws-frame-once' | 'tandem-sse' | 'ws-auth';

export type ClientCommand =
  | { cmd: 'tokens'; base: string; count: number }
  | { cmd: 'connect'; kind: ServerKind; base: string; from: number; to: number; concurrency: number; officialSocketIo: number; sampleEvery: number }
  | { cmd: 'expect'; count: number }
  | { cmd: 'wait'; timeoutMs: number }
  | { cmd: 'close'; from: number }
  | { cmd: 'exit' };

export interface WaitResult {
  expected: number;
  received: number;
  /** nowMicros() of the last delivery counted (0 when none). */
  lastAt: number;
  /** Latency samples, µs. */
  samples: number;
  p50Us: number | null;
  p99Us: number | null;
  maxUs: number | null;
  /** Deliveries counted after the expected count was reached (duplicates or late; should be 0). */
  extra: number;
  /** Connections the server closed since the expectation began (e.g. slow-consumer closes; should be 0). */
  droppedConnections: number;
}

export type ClientReply = { id: number; ok: true; result: unknown } | { id: number; ok: false; error: string };

interface Conn {
  close(): Promise<void>;
}

let tokens: string[] = [];
const conns: Conn[] = [];

// Delivery accounting for the current expectation.
let expected = 0;
let received = 0;
let lastAt = 0;
let latencies: number[] = [];
let onComplete: (() => void) | undefined;
let droppedConnections = 0;

function delivered(count: number): void {
  received += count;
  lastAt = nowMicros();
  if (received >= expected && onComplete !== undefined) {
    const done = onComplete;
    onComplete = undefined;
    done();
  }
}

/** Latency of every `"ts":` in a (sampled) message. */
function sample(text: string, at: number): void {
  let i = text.indexOf('"ts":');
  while (i !== -1) {
    const ts = Number.parseFloat(text.slice(i + 5, i + 25));
    if (Number.isFinite(ts)) latencies.push(at - ts);
    i = text.indexOf('"ts":', i + 5);
  }
}

/** 1 + the newlines of a coalesced Tandem message (an SSE event's data: its data lines joined by '\n'). */
function countLines(text: string): number {
  let n = 1;
  let i = text.indexOf('\n');
  while (i !== -1) {
    n++;
    i = text.indexOf('\n', i + 1);
  }
  return n;
}

function percentile(sorted: number[], p: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

function wsUrl(base: string, path: string): string {
  return base.replace(/^http/, 'ws') + path;
}

/** Opens one connection; resolves once it is subscribed (Tandem), joined (Socket.IO) or open (ws). */
function open(server: ServerKind, base: string, index: number, sampled: boolean, official: boolean): Promise<Conn> {
  if (server === 'tandem-sse') {
    return openSse(base, index, {
      token: tokens[index]!,
      delivered: (data) => {
        if (sampled) sample(data, nowMicros());
        delivered(countLines(data));
      },
      dropped: () => void droppedConnections++,
    });
  }
  // What the client speaks: the frame-once reference server is bare ws on the wire; the handshake
  // floor (ws-auth) speaks tandem.v1's auth and sub.
  const kind: 'tandem' | 'ws' | 'socketio' = server === 'ws-frame-once' ? 'ws' : server === 'ws-auth' ? 'tandem' : (server as 'tandem' | 'ws' | 'socketio');
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => fail(new Error(`connection ${index}: not ready within 20 s`)), 20_000);
    let settled = false;
    const fail = (error: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      cleanup();
      reject(error);
    };
    const ready = (conn: Conn) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(conn);
    };
    let cleanup = () => {};

    if (kind === 'socketio' && official) {
      const socket: Socket = ioClient(base, { transports: ['websocket'], forceNew: true, reconnection: false, timeout: 20_000 });
      cleanup = () => socket.disconnect();
      socket.on('tick', (data: { ts: number }) => {
        const at = nowMicros();
        if (sampled) latencies.push(at - data.ts);
        delivered(1);
      });
      socket.once('connect_error', (e) => fail(e));
      socket.once('connect', () =>
        ready({
          close: () =>
            new Promise((r) => {
              socket.disconnect();
              r();
            }),
        }),
      );
      return;
    }

    const url = kind === 'tandem' ? wsUrl(base, '/realtime') : kind === 'socketio' ? wsUrl(base, '/socket.io/?EIO=4&transport=websocket') : wsUrl(base, '/');
    const ws = new WebSocket(url, kind === 'tandem' ? ['tandem.v1'] : [], { perMessageDeflate: false, skipUTF8Validation: true, handshakeTimeout: 20_000 });
    cleanup = () => ws.terminate();
    let closingByUs = false;
    const conn: Conn = {
      close: () => {
        closingByUs = true;
        return closeWs(ws);
      },
    };
    ws.on('error', (e) => fail(e));
    ws.on('close', (code) => {
      if (settled && !closingByUs) droppedConnections++;
      fail(new Error(`connection ${index} closed (${code}) before it was ready`));
    });

    const live = (data: Buffer) => {
      if (kind === 'socketio') {
        // 42["tick",{…}] is an event; 2 is Engine.IO's ping.
        if (data[0] === 0x32 && data.length === 1) return ws.send('3');
        if (data[0] !== 0x34 || data[1] !== 0x32) return;
      }
      if (sampled) sample(data.toString('latin1'), nowMicros());
      delivered(kind === 'tandem' ? countFrames(data) : 1);
    };

    if (kind === 'ws') {
      ws.once('open', () => {
        ws.on('message', live);
        ready(conn);
      });
      return;
    }
    if (kind === 'tandem') {
      ws.once('open', () => {
        ws.send(JSON.stringify({ t: 'auth', id: 1, tok: tokens[index] }));
        ws.send(JSON.stringify({ t: 'sub', id: 2, ch: 'bench:1' }));
      });
      const setup = (data: Buffer) => {
        for (const line of data.toString('utf8').split('\n')) {
          const frame = JSON.parse(line) as { t: string; id?: number; c?: string };
          if (frame.t === 'err') return fail(new Error(`connection ${index}: ${frame.c}`));
          if (frame.t === 'ack' && frame.id === 2) {
            ws.off('message', setup);
            ws.on('message', live);
            return ready(conn);
          }
        }
      };
      ws.on('message', setup);
      return;
    }
    // Socket.IO at the wire level.
    const setup = (data: Buffer) => {
      const text = data.toString('utf8');
      if (text.startsWith('0{')) return ws.send('40');
      if (text === '2') return ws.send('3');
      if (text.startsWith('40')) {
        ws.off('message', setup);
        ws.on('message', live);
        return ready(conn);
      }
      if (text.startsWith('44')) return fail(new Error(`connection ${index}: connect error ${text}`));
    };
    ws.on('message', setup);
  });
}

async function connectRange(c: Extract<ClientCommand, { cmd: 'connect' }>): Promise<{ connected: number; failures: number; ms: number }> {
  const started = Date.now();
  let next = c.from;
  let failures = 0;
  const worker = async () => {
    while (next < c.to) {
      const index = next++;
      for (let attempt = 1; ; attempt++) {
        try {
          conns[index] = await open(c.kind, c.base, index, index % c.sampleEvery === 0, c.kind === 'socketio' && index < c.officialSocketIo);
          break;
        } catch (error) {
          failures++;
          if (attempt >= 5) throw error;
          await new Promise((r) => setTimeout(r, 100 * attempt));
        }
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, c.concurrency) }, worker));
  return { connected: c.to - c.from, failures, ms: Date.now() - started };
}

async function fetchTokens(base: string, count: number): Promise<number> {
  tokens = [];
  const chunk = 1000;
  for (let from = 0; from < count; from += chunk) {
    const response = await fetch(`${base}/tokens?from=${from}&count=${Math.min(chunk, count - from)}`);
    if (!response.ok) throw new Error(`GET /tokens: ${response.status}`);
    tokens.push(...((await response.json()) as string[]));
  }
  return tokens.length;
}

function waitFor(timeoutMs: number): Promise<WaitResult> {
  return new Promise((resolve) => {
    const finish = () => {
      clearTimeout(timer);
      onComplete = undefined;
      // A short grace to catch duplicates/late extras.
      setTimeout(() => {
        const sorted = latencies.sort((a, b) => a - b);
        resolve({
          expected,
          received: Math.min(received, expected),
          lastAt,
          samples: sorted.length,
          p50Us: percentile(sorted, 50),
          p99Us: percentile(sorted, 99),
          maxUs: sorted.length === 0 ? null : sorted[sorted.length - 1]!,
          extra: Math.max(0, received - expected),
          droppedConnections,
        });
      }, 50);
    };
    const timer = setTimeout(finish, timeoutMs);
    if (received >= expected) finish();
    else onComplete = finish;
  });
}

async function handle(command: ClientCommand): Promise<unknown> {
  switch (command.cmd) {
    case 'tokens':
      return fetchTokens(command.base, command.count);
    case 'connect':
      return connectRange(command);
    case 'expect':
      expected = command.count;
      received = 0;
      lastAt = 0;
      latencies = [];
      onComplete = undefined;
      droppedConnections = 0;
      return true;
    case 'wait':
      return waitFor(command.timeoutMs);
    case 'close': {
      const closing = conns.splice(command.from);
      await Promise.all(closing.map((c) => c.close()));
      return conns.length;
    }
    case 'exit':
      setImmediate(() => process.exit(0));
      return true;
  }
}

process.on('message', (message: ClientCommand & { id: number }) => {
  handle(message).then(
    (result) => process.send?.({ id: message.id, ok: true, result } satisfies ClientReply),
    (error: unknown) => process.send?.({ id: message.id, ok: false, error: error instanceof Error ? error.message : String(error) } satisfies ClientReply),
  );
});
process.on('disconnect', () => process.exit(0));
process.send?.({ id: 0, ok: true, result: 'ready' } satisfies ClientReply);
