/**
 * The fanout subscribers (inside the load-clients process): N raw tandem.v1 connections, each in
 * a group named by the node it is on ('single', or 'A' = the publisher's node and 'B' = the other
 * one, whose deliveries crossed nodes). They count every delivery (a coalesced message counts 1 +
 * its newlines) and, on every `sampleEvery`-th connection, measure publish→deliver latency from
 * the `ts` the publisher stamped when it sent the REST write.
 */
import type { WebSocket } from 'ws';
import { closeWs, countFrames } from '../common/ws';
import { framesOf, nowMicros, stampsOf, summarize, tandemSocket } from './wire';

export interface FanoutConnect {
  base: string;
  tokens: readonly string[];
  /** Index of the first connection (its token is tokens[0]); for the sampling pattern. */
  first: number;
  group: string;
  channel: string;
  sampleEvery: number;
  concurrency: number;
}

export interface GroupLatency {
  samples: number;
  p50Us: number | null;
  p99Us: number | null;
  maxUs: number | null;
}

export interface FanoutResult {
  expected: number;
  received: number;
  /** nowMicros() of the last delivery counted (0 when none). */
  lastAt: number;
  /** Latency per group (node), and over all groups. */
  groups: Record<string, GroupLatency>;
  all: GroupLatency;
  /** Deliveries past the expected count (duplicates; should be 0). */
  extra: number;
  /** Connections that closed during the expectation (should be 0). */
  dropped: number;
}

const sockets: WebSocket[] = [];
let expected = 0;
let received = 0;
let lastAt = 0;
let dropped = 0;
let latencies = new Map<string, number[]>();
let onComplete: (() => void) | undefined;

function delivered(count: number): void {
  received += count;
  lastAt = nowMicros();
  if (received >= expected && onComplete !== undefined) {
    const done = onComplete;
    onComplete = undefined;
    done();
  }
}

/** Opens one connection, authenticates and subscribes; resolves once the `sub` is acknowledged. */
function open(spec: FanoutConnect, index: number): Promise<WebSocket> {
  const sampled = (spec.first + index) % spec.sampleEvery === 0;
  const into = (latencies.get(spec.group) ?? latencies.set(spec.group, []).get(spec.group))!;
  return new Promise((resolve, reject) => {
    const ws = tandemSocket(spec.base);
    let ready = false;
    const timer = setTimeout(() => fail(new Error(`connection ${spec.first + index}: not subscribed within 20 s`)), 20_000);
    const fail = (error: Error) => {
      clearTimeout(timer);
      ws.terminate();
      reject(error);
    };
    ws.on('error', (error) => {
      if (!ready) fail(error);
    });
    ws.on('close', () => {
      if (ready) dropped++;
      else fail(new Error(`connection ${spec.first + index} closed before it was subscribed`));
    });
    ws.once('open', () => {
      ws.send(JSON.stringify({ t: 'auth', id: 1, tok: spec.tokens[index] }));
      ws.send(JSON.stringify({ t: 'sub', id: 2, ch: spec.channel }));
    });
    const live = (data: Buffer) => {
      if (sampled) stampsOf(data, nowMicros(), latencies.get(spec.group) ?? into);
      delivered(countFrames(data));
    };
    const setup = (data: Buffer) => {
      for (const frame of framesOf(data)) {
        if (frame.t === 'err') return fail(new Error(`connection ${spec.first + index}: ${String(frame.c)}`));
        if (frame.t === 'ack' && frame.id === 2) {
          ready = true;
          clearTimeout(timer);
          ws.off('message', setup);
          ws.on('message', live);
          return resolve(ws);
        }
      }
    };
    ws.on('message', setup);
  });
}

/** Opens spec.tokens.length connections, `concurrency` at a time, retrying each up to 5 times. */
export async function connectFanout(spec: FanoutConnect): Promise<{ connected: number; retries: number; ms: number }> {
  const started = Date.now();
  let next = 0;
  let retries = 0;
  const worker = async () => {
    while (next < spec.tokens.length) {
      const index = next++;
      for (let attempt = 1; ; attempt++) {
        try {
          sockets.push(await open(spec, index));
          break;
        } catch (error) {
          if (attempt >= 5) throw error;
          retries++;
          await new Promise((r) => setTimeout(r, 100 * attempt));
        }
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, spec.concurrency) }, worker));
  return { connected: spec.tokens.length, retries, ms: Date.now() - started };
}

export function expectDeliveries(count: number): void {
  expected = count;
  received = 0;
  lastAt = 0;
  dropped = 0;
  latencies = new Map([...latencies.keys()].map((group) => [group, []]));
  onComplete = undefined;
}

/** Resolves once the expected deliveries arrived (plus 50 ms to catch extras), or after `timeoutMs`. */
export function waitDeliveries(timeoutMs: number): Promise<FanoutResult> {
  return new Promise((resolve) => {
    const finish = () => {
      clearTimeout(timer);
      onComplete = undefined;
      setTimeout(() => {
        const groups: Record<string, GroupLatency> = {};
        const all: number[] = [];
        for (const [group, samples] of latencies) {
          all.push(...samples);
          groups[group] = summarize(samples);
        }
        resolve({ expected, received: Math.min(received, expected), lastAt, groups, all: summarize(all), extra: Math.max(0, received - expected), dropped });
      }, 50);
    };
    const timer = setTimeout(finish, timeoutMs);
    if (received >= expected) finish();
    else onComplete = finish;
  });
}

/** Closes every fanout connection (the server sees them go); resolves when all are closed. */
export async function closeFanout(): Promise<void> {
  const closing = sockets.splice(0);
  latencies = new Map();
  await Promise.all(closing.map((ws) => {
    ws.removeAllListeners('close');
    return closeWs(ws);
  }));
}
