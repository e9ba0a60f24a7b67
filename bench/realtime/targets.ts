/**
 * The goals Tandem is held to: deliveries/s against bare ws and Socket.IO, p99 latency and idle
 * memory per connection against bare ws, each as a ratio of medians plus the ratio in each round.
 */
import type { ServerKind } from './clients';
import type { PublishMode } from './common';
import { fmt, fmtInt } from './format';
import type { Measurement, MemoryMeasurement } from './measure';
import { LABEL, maxSize, opts } from './settings';
import type { MemorySummary, Summary } from './summary';

export interface Target {
  name: string;
  measured: number | null;
  /** The same comparison by server CPU per delivery (other / Tandem): less sensitive to a shared core. */
  byCpu: number | null;
  /** The ratio within each round (servers of one round run minutes apart, not hours): the spread behind the median. */
  perRound: number[];
  goal: string;
  pass: boolean | null;
  detail: string;
  /** What `measured` and `perRound` are in: a ratio (×, the default) or KiB. */
  unit?: '×' | ' KiB';
}

export interface TargetInputs {
  summary: Summary[];
  mem: MemorySummary[];
  measurements: Measurement[];
  memory: MemoryMeasurement[];
}

/** Tandem and `s` were both benched. */
const has = (s: ServerKind) => opts.servers.includes(s) && opts.servers.includes('tandem');
const ratio = (a: number | null | undefined, b: number | null | undefined) => (a == null || b == null || b === 0 ? null : a / b);
const rounds = () => Array.from({ length: opts.rounds }, (_, i) => i + 1);

function getter(summary: Summary[]) {
  return (server: ServerKind, n: number, mode: PublishMode) => summary.find((s) => s.server === server && s.subscribers === n && s.mode === mode);
}

/** Tandem / `other` of `f` within each round that has a valid measurement of both. */
function perRound(measurements: Measurement[], other: ServerKind, n: number, mode: PublishMode, f: (m: Measurement) => number | null): number[] {
  return rounds().flatMap((round) => {
    const find = (server: ServerKind) => measurements.find((m) => m.round === round && m.server === server && m.subscribers === n && m.mode === mode && m.valid);
    const r = ratio(find('tandem') && f(find('tandem')!), find(other) && f(find(other)!));
    return r === null ? [] : [r];
  });
}

function throughputTargets({ summary, measurements }: TargetInputs): Target[] {
  const get = getter(summary);
  const out: Target[] = [];
  for (const n of opts.sizes) {
    const rows: Array<[ServerKind, PublishMode, number]> = [
      ['ws', 'single', 1],
      ['ws', 'burst', 3],
      ['socketio', 'single', 2],
      ['socketio', 'burst', 3],
    ];
    for (const [other, mode, goal] of rows) {
      if (!has(other)) continue;
      const r = ratio(get('tandem', n, mode)?.deliveriesPerSecond, get(other, n, mode)?.deliveriesPerSecond);
      out.push({
        name: `deliveries/s vs ${LABEL[other]}, ${mode}, ${n.toLocaleString('en-US')} subscribers`,
        measured: r,
        byCpu: ratio(get(other, n, mode)?.serverCpuMicrosPerDelivery, get('tandem', n, mode)?.serverCpuMicrosPerDelivery),
        perRound: perRound(measurements, other, n, mode, (m) => m.deliveriesPerSecond),
        goal: `≥ ${goal}×`,
        pass: r === null ? null : r >= goal,
        detail: `${fmtInt(get('tandem', n, mode)?.deliveriesPerSecond ?? null)} vs ${fmtInt(get(other, n, mode)?.deliveriesPerSecond ?? null)}`,
      });
    }
  }
  return out;
}

function latencyTargets({ summary, measurements }: TargetInputs): Target[] {
  const get = getter(summary);
  return (['paced', 'single'] as const).map((mode) => {
    const t = get('tandem', maxSize(), mode)?.p99Ms;
    const w = get('ws', maxSize(), mode)?.p99Ms;
    const r = ratio(t, w);
    return {
      name: `p99 latency vs bare ws, ${mode}${mode === 'paced' ? ' (same offered load)' : ' (back to back)'}, ${maxSize().toLocaleString('en-US')} subscribers`,
      measured: r,
      byCpu: null,
      perRound: perRound(measurements, 'ws', maxSize(), mode, (m) => m.p99Ms),
      goal: '≤ 1×',
      pass: r === null ? null : r <= 1,
      detail: `${fmt(t ?? null, 2)} ms vs ${fmt(w ?? null, 2)} ms`,
    };
  });
}

function memoryTarget({ mem, memory }: TargetInputs): Target {
  const memPerRound = rounds().flatMap((round) => {
    const find = (server: ServerKind) => memory.find((m) => m.round === round && m.server === server && m.subscribers === maxSize());
    const r = ratio(find('tandem')?.bytesPerConnection, find('ws')?.bytesPerConnection);
    return r === null ? [] : [r];
  });
  const t = mem.find((m) => m.server === 'tandem' && m.subscribers === maxSize())?.bytesPerConnection;
  const w = mem.find((m) => m.server === 'ws' && m.subscribers === maxSize())?.bytesPerConnection;
  const r = ratio(t, w);
  return {
    name: `idle RSS per connection vs bare ws, ${maxSize().toLocaleString('en-US')} connections`,
    measured: r,
    byCpu: null,
    perRound: memPerRound,
    goal: '≤ 1.3×',
    pass: r === null ? null : r <= 1.3,
    detail: `${fmt(t == null ? null : t / 1024, 2)} KiB vs ${fmt(w == null ? null : w / 1024, 2)} KiB`,
  };
}

/**
 * Server CPU to connect 1,000 connections (upgrade, auth, subscribe), Tandem against `reference`
 * at the largest size. Issue 13's goal is against bare ws (≤ 1.5× what it pays per plain
 * subscribed connection); against ws-auth, the same setup work done bare, it is a reference row.
 */
function handshakeTarget({ mem, memory }: TargetInputs, reference: 'ws' | 'ws-auth'): Target {
  const at = maxSize();
  const perRound = rounds().flatMap((round) => {
    const find = (server: ServerKind) => memory.find((m) => m.round === round && m.server === server && m.subscribers === at);
    const r = ratio(find('tandem')?.connectCpuMsPer1000, find(reference)?.connectCpuMsPer1000);
    return r === null ? [] : [r];
  });
  const t = mem.find((m) => m.server === 'tandem' && m.subscribers === at)?.connectCpuMsPer1000;
  const f = mem.find((m) => m.server === reference && m.subscribers === at)?.connectCpuMsPer1000;
  const r = ratio(t, f);
  const goal = reference === 'ws';
  return {
    name: goal
      ? `server CPU per 1,000 connections (Tandem: upgrade, auth, subscribe) vs bare ws, at ${at.toLocaleString('en-US')}`
      : `server CPU per 1,000 connections vs the same-work floor (ws + token check, session read, two acks), at ${at.toLocaleString('en-US')}`,
    measured: r,
    byCpu: null,
    perRound,
    goal: goal ? '≤ 1.5×' : '(reference)',
    pass: !goal || r === null ? null : r <= 1.5,
    detail: `${fmt(t ?? null, 0)} ms vs ${fmt(f ?? null, 0)} ms`,
  };
}

/**
 * Issue 13, the SSE fallback against WebSocket on the same Tandem server (`npm run bench:sse`):
 * server CPU per delivery ≤ 1.2× WebSocket's in every scenario, and an idle stream ≤ 3 KiB of RSS.
 */
function sseTargets({ summary, mem, measurements, memory }: TargetInputs): Target[] {
  const get = getter(summary);
  const out: Target[] = [];
  for (const n of opts.sizes) {
    for (const mode of opts.modes) {
      const sse = get('tandem-sse', n, mode)?.serverCpuMicrosPerDelivery;
      const ws = get('tandem', n, mode)?.serverCpuMicrosPerDelivery;
      const r = ratio(sse, ws);
      out.push({
        name: `SSE server CPU per delivery vs WebSocket (the same Tandem server), ${mode}, ${n.toLocaleString('en-US')} subscribers`,
        measured: r,
        byCpu: null,
        perRound: perRound(measurements, 'tandem-sse', n, mode, (m) => m.serverCpuMicrosPerDelivery).map((x) => 1 / x),
        goal: '≤ 1.2×',
        pass: r === null ? null : r <= 1.2,
        detail: `${fmt(sse ?? null, 2)} µs vs ${fmt(ws ?? null, 2)} µs`,
      });
    }
  }
  const at = maxSize();
  const idle = mem.find((m) => m.server === 'tandem-sse' && m.subscribers === at)?.bytesPerConnection;
  const ws = mem.find((m) => m.server === 'tandem' && m.subscribers === at)?.bytesPerConnection;
  out.push({
    name: `idle RSS per SSE stream (authenticated, subscribed), ${at.toLocaleString('en-US')} streams`,
    measured: idle == null ? null : idle / 1024,
    byCpu: null,
    perRound: memory.filter((m) => m.server === 'tandem-sse' && m.subscribers === at).map((m) => m.bytesPerConnection / 1024),
    goal: '≤ 3 KiB',
    pass: idle == null ? null : idle <= 3 * 1024,
    detail: `WebSocket: ${fmt(ws == null ? null : ws / 1024, 2)} KiB`,
    unit: ' KiB',
  });
  return out;
}

/** Every target that the benched servers allow, throughput first. */
export function targets(inputs: TargetInputs): Target[] {
  return [
    ...throughputTargets(inputs),
    ...(has('ws') ? [...latencyTargets(inputs), memoryTarget(inputs), handshakeTarget(inputs, 'ws')] : []),
    ...(has('ws-auth') ? [handshakeTarget(inputs, 'ws-auth')] : []),
    ...(has('tandem-sse') ? sseTargets(inputs) : []),
  ];
}
