/**
 * Shared by the three bench servers (Tandem, bare ws, Socket.IO) and the load clients: the
 * clock, the payload, the control endpoints and the publication loop, so the three servers are
 * driven the same way and differ only in how they fan a publication out.
 */
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import v8 from 'node:v8';
import { setImmediate as nextTick } from 'node:timers/promises';
import { whenParentGone } from '../common/children';

export const HOST = '127.0.0.1';
/** The Tandem channel every bench client subscribes to (the bare/Socket.IO equivalents: one set, one room). */
export const CHANNEL = 'bench:1';
export const EVENT = 'tick';
export const ROOM = 'room';

/**
 * CLOCK_MONOTONIC in microseconds (libuv's hrtime). It is one system-wide clock, so a stamp
 * taken in the server process compares exactly with one taken in the client process.
 */
export function nowMicros(): number {
  const [s, ns] = process.hrtime();
  return s * 1e6 + ns / 1e3;
}

/** The publication's data: `ts` first (the client finds it without parsing), padded to ~`size` bytes of JSON. */
export interface BenchData {
  ts: number;
  seq: number;
  pad: string;
}

const pads = new Map<number, string>();
export function makeData(ts: number, seq: number, size: number): BenchData {
  // {"ts":123456789012.3,"seq":123456,"pad":""} is ~43 bytes; the pad brings the JSON to `size`.
  let pad = pads.get(size);
  if (pad === undefined) {
    pad = 'x'.repeat(Math.max(0, size - 43));
    pads.set(size, pad);
  }
  return { ts: Math.round(ts * 10) / 10, seq, pad };
}

export type PublishMode = 'single' | 'burst' | 'paced';

export interface PublishParams {
  mode: PublishMode;
  /** Total publications. */
  pubs: number;
  /** Publications per call in burst mode. */
  burst: number;
  /** Spacing of publications in paced mode. */
  intervalMs: number;
  /** Approximate JSON size of each publication's data. */
  size: number;
}

export interface PublishReport {
  /** nowMicros() when the first publication was made. */
  t0: number;
  /** nowMicros() when the last publish call returned. */
  t1: number;
  published: number;
  calls: number;
}

/**
 * Runs the publication schedule; `publish` gets the events of one call (one for single/paced, a
 * burst's worth for burst). single: one call per event-loop turn (setImmediate between calls);
 * burst: `burst` events per call, one call per turn; paced: one per `intervalMs` (drift-free).
 * All events of one call carry the same `ts`: the moment the application published them.
 */
export async function runPublications(params: PublishParams, publish: (events: BenchData[]) => void | Promise<void>, firstSeq: number): Promise<PublishReport> {
  const perCall = params.mode === 'burst' ? Math.max(1, params.burst) : 1;
  let seq = firstSeq;
  let published = 0;
  let calls = 0;
  const t0 = nowMicros();
  while (published < params.pubs) {
    if (params.mode === 'paced' && calls > 0) {
      const due = t0 + calls * params.intervalMs * 1000;
      const wait = (due - nowMicros()) / 1000;
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
    const count = Math.min(perCall, params.pubs - published);
    const ts = calls === 0 ? t0 : nowMicros();
    const events: BenchData[] = [];
    for (let i = 0; i < count; i++) events.push(makeData(ts, seq++, params.size));
    await publish(events);
    published += count;
    calls += 1;
    if (params.mode !== 'paced') await nextTick();
  }
  return { t0, t1: nowMicros(), published, calls };
}

export function publishParamsFrom(url: URL): PublishParams {
  const num = (name: string, fallback: number) => {
    const v = Number(url.searchParams.get(name) ?? fallback);
    if (!Number.isFinite(v) || v < 0) throw new Error(`bad ${name}`);
    return v;
  };
  const mode = (url.searchParams.get('mode') ?? 'single') as PublishMode;
  if (!['single', 'burst', 'paced'].includes(mode)) throw new Error(`bad mode ${mode}`);
  return { mode, pubs: num('pubs', 200), burst: num('burst', 50), intervalMs: num('intervalMs', 10), size: num('size', 100) };
}

export interface ServerStats {
  connections: number;
  subscribed: number;
}

export interface MemReport {
  rss: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
  arrayBuffers: number;
}

/** Full GC (the servers run with --expose-gc), then the process's memory. */
export async function memoryAfterGc(prime = false): Promise<MemReport> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (prime) primeHeap();
  for (let i = 0; i < 3; i++) {
    gc?.();
    await new Promise((r) => setTimeout(r, 20));
  }
  const m = process.memoryUsage();
  return { rss: m.rss, heapUsed: m.heapUsed, heapTotal: m.heapTotal, external: m.external, arrayBuffers: m.arrayBuffers };
}

/**
 * Cycles ~256 MB of short-lived garbage through the young generation, so every server's new space
 * has grown to its maximum and been touched before the baseline: otherwise a server whose startup
 * happened to allocate more (Tandem loads more modules) starts with a bigger, already-resident
 * heap, and the connections' memory partly hides in it.
 */
function primeHeap(): void {
  let keep: unknown[] = [];
  for (let i = 0; i < 2_000_000; i++) {
    keep.push({ i, s: `x${i}`, a: [i, i + 1] });
    if (keep.length === 1000) keep = [];
  }
}

export interface ControlHandlers {
  stats(): ServerStats;
  publish(params: PublishParams): Promise<PublishReport>;
  /** Tandem only: access tokens for connections from..from+count-1 (one session each). */
  tokens?(from: number, count: number): Promise<string[]>;
}

/**
 * The control endpoints every bench server answers on its HTTP port:
 * GET /stats, GET /mem[?prime=1], GET /tokens?from&count and /token?i (Tandem), GET /heap-snapshot
 * (writes one to the temp dir, for memory analysis), POST /publish?mode&pubs&burst&intervalMs&size.
 */
export function controlHandler(handlers: ControlHandlers): http.RequestListener {
  return (req, res) => {
    const url = new URL(req.url ?? '/', `http://${HOST}`);
    const reply = (status: number, body: unknown) => {
      const text = JSON.stringify(body);
      res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
      res.end(text);
    };
    const run = async (): Promise<unknown> => {
      if (req.method === 'GET' && url.pathname === '/stats') return handlers.stats();
      if (req.method === 'GET' && url.pathname === '/mem') return memoryAfterGc(url.searchParams.get('prime') === '1');
      if (req.method === 'GET' && url.pathname === '/tokens' && handlers.tokens !== undefined) {
        return handlers.tokens(Number(url.searchParams.get('from') ?? 0), Number(url.searchParams.get('count') ?? 1));
      }
      if (req.method === 'GET' && url.pathname === '/token' && handlers.tokens !== undefined) {
        return (await handlers.tokens(Number(url.searchParams.get('i') ?? 0), 1))[0];
      }
      if (req.method === 'GET' && url.pathname === '/heap-snapshot') {
        (globalThis as { gc?: () => void }).gc?.();
        return { path: v8.writeHeapSnapshot(path.join(os.tmpdir(), `bench-realtime-${process.pid}-${Date.now()}.heapsnapshot`)) };
      }
      if (req.method === 'POST' && url.pathname === '/publish') return handlers.publish(publishParamsFrom(url));
      return undefined;
    };
    run().then(
      (body) => (body === undefined ? reply(404, { error: 'not found' }) : reply(200, body)),
      (error: unknown) => reply(500, { error: error instanceof Error ? error.message : String(error) }),
    );
  };
}

/** Listens on 127.0.0.1:0 with a deep accept backlog, prints the port for the orchestrator, exits cleanly on SIGTERM (so --cpu-prof is written). */
export function listenAndAnnounce(server: http.Server, name: string, onStop?: () => void): void {
  server.listen({ port: 0, host: HOST, backlog: 4096 }, () => {
    const address = server.address();
    const port = typeof address === 'object' && address !== null ? address.port : 0;
    process.stdout.write(`${name} listening on ${port}\n`);
  });
  const stop = () => {
    try {
      onStop?.();
    } finally {
      process.exit(0);
    }
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  // The orchestrator owns us: if it goes away, so do we.
  process.on('disconnect', stop);
  whenParentGone(stop);
}
