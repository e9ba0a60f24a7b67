/**
 * What the load processes share: the clock, percentiles, and a raw tandem.v1 socket over `ws`
 * (docs/protocol.md): `auth` and `sub` frames out, newline-separated JSON frames in. Lighter than
 * the SDK, so the load side costs as little as possible per delivery.
 */
import { WebSocket } from 'ws';

/**
 * CLOCK_MONOTONIC in µs (libuv's hrtime): one system-wide clock, so a stamp taken in the publisher
 * process compares exactly with one taken in the subscribers' process or the runner.
 */
export function nowMicros(): number {
  const [s, ns] = process.hrtime();
  return s * 1e6 + ns / 1e3;
}

/** The p-th percentile (nearest rank) of ascending `sorted`; null when empty. */
export function percentile(sorted: readonly number[], p: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

/** A WebSocket to `<base>/realtime` speaking tandem.v1 (`base`: http://host:port). */
export function tandemSocket(base: string): WebSocket {
  return new WebSocket(`${base.replace(/^http/, 'ws')}/realtime`, ['tandem.v1'], { perMessageDeflate: false, skipUTF8Validation: true, handshakeTimeout: 20_000 });
}

export interface SubscribeAck {
  e: string;
  o: number;
  rec?: boolean;
  why?: string;
  pubs?: Array<{ o: number }>;
}

export type Frame =
  | { t: 'ack'; id: number; d?: unknown }
  | { t: 'err'; id?: number; c: string; m?: string }
  | { t: 'pub'; ch: string; o?: number; ev: string; d: unknown }
  | { t: string; [key: string]: unknown };

/** The frames of one server message (one or more JSON texts separated by '\n'). */
export function framesOf(data: Buffer): Frame[] {
  return data.toString('utf8').split('\n').map((line) => JSON.parse(line) as Frame);
}

/** Latency (µs) of every `"ts":` stamp in a message received at `at`. */
export function stampsOf(data: Buffer, at: number, into: number[]): void {
  const text = data.toString('latin1');
  let i = text.indexOf('"ts":');
  while (i !== -1) {
    const ts = Number.parseFloat(text.slice(i + 5, i + 25));
    if (Number.isFinite(ts)) into.push(at - ts);
    i = text.indexOf('"ts":', i + 5);
  }
}

export function summarize(samples: number[]): { samples: number; p50Us: number | null; p99Us: number | null; maxUs: number | null } {
  const sorted = samples.sort((a, b) => a - b);
  return { samples: sorted.length, p50Us: percentile(sorted, 50), p99Us: percentile(sorted, 99), maxUs: sorted.length === 0 ? null : sorted[sorted.length - 1]! };
}
