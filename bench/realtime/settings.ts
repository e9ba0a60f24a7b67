/**
 * The realtime bench's servers, labels and knobs (env or --name=value; see run.ts for the list).
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { option, intOption } from '../common/options';
import type { ServerKind } from './clients';
import type { PublishMode } from './common';

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const ROOT = path.resolve(HERE, '..', '..');
const DEFAULT_SERVERS: ServerKind[] = ['tandem', 'ws', 'socketio'];
/**
 * ws-frame-once is an optional reference (what framing once is worth), not part of the targets.
 * ws-auth is the handshake's same-work floor (bare ws that verifies the token, reads the session and
 * acks auth and sub; see ws-auth-server.ts), an optional reference for the connect CPU.
 * tandem-sse is Tandem's SSE fallback (`npm run bench:sse`): the same Tandem server script, with
 * its SSE endpoints installed, loaded by SSE clients instead of WebSocket ones.
 */
const ALL_SERVERS: ServerKind[] = [...DEFAULT_SERVERS, 'ws-frame-once', 'tandem-sse', 'ws-auth'];
export const LABEL: Record<ServerKind, string> = { tandem: 'Tandem', ws: 'bare ws', socketio: 'Socket.IO', 'ws-frame-once': 'ws, framed once', 'tandem-sse': 'Tandem over SSE', 'ws-auth': 'ws + auth floor' };
export const SCRIPT: Record<ServerKind, string> = {
  tandem: 'bench/realtime/tandem-server.ts',
  'tandem-sse': 'bench/realtime/tandem-server.ts',
  ws: 'bench/realtime/ws-server.ts',
  socketio: 'bench/realtime/socketio-server.ts',
  'ws-frame-once': 'bench/realtime/ws-frame-once-server.ts',
  'ws-auth': 'bench/realtime/ws-auth-server.ts',
};
const ALL_MODES: PublishMode[] = ['single', 'burst', 'paced'];
/** A side whose core was at least this busy during a scenario counts as the bottleneck. */
export const SATURATED = 0.85;

/** Mutable only by --report, which takes servers, sizes and rounds from the results file. */
export const opts = {
  rounds: intOption('rounds', 'BENCH_ROUNDS', 3),
  sizes: option('sizes', 'BENCH_SIZES', '1000,10000').split(',').map((s) => Number(s.trim())).filter((n) => Number.isInteger(n) && n > 0).sort((a, b) => a - b),
  deliveries: intOption('deliveries', 'BENCH_DELIVERIES', 150_000),
  burst: intOption('burst', 'BENCH_BURST', 50),
  pacedRate: intOption('paced-rate', 'BENCH_PACED_RATE', 20_000),
  pacedMs: intOption('paced-ms', 'BENCH_PACED_MS', 2_000),
  warmup: intOption('warmup', 'BENCH_WARMUP', 40_000, 0),
  /** The delivery scenarios, in this order (a subset of single, burst, paced). */
  modes: option('modes', 'BENCH_MODES', ALL_MODES.join(',')).split(',').map((s) => s.trim()).filter(Boolean) as PublishMode[],
  servers: option('servers', 'BENCH_SERVERS', DEFAULT_SERVERS.join(',')).split(',').map((s) => s.trim()).filter(Boolean) as ServerKind[],
  sioOfficial: intOption('sio-official', 'BENCH_SIO_OFFICIAL', 10, 0),
  serverCpu: intOption('server-cpu', 'BENCH_SERVER_CPU', 0, 0),
  loadCpu: intOption('load-cpu', 'BENCH_LOAD_CPU', 1, 0),
  out: option('out', 'BENCH_OUT', path.join(ROOT, 'bench', 'results', 'realtime-latest.json')),
  tandemNodeArgs: option('tandem-node-args', 'BENCH_TANDEM_NODE_ARGS', '').split(/\s+/).filter(Boolean),
  serverNodeArgs: option('server-node-args', 'BENCH_SERVER_NODE_ARGS', '').split(/\s+/).filter(Boolean),
  maxSeconds: intOption('max-seconds', 'BENCH_MAX_SECONDS', 900),
};
for (const m of opts.modes) if (!ALL_MODES.includes(m)) throw new Error(`unknown mode ${m}; use ${ALL_MODES.join(', ')}`);
for (const s of opts.servers) if (!ALL_SERVERS.includes(s)) throw new Error(`unknown server ${s}; use ${ALL_SERVERS.join(', ')}`);
if (opts.sizes.length === 0) throw new Error('BENCH_SIZES: no valid size');

/**
 * Whether the Tandem server is started with its SSE endpoints (and a long heartbeat, see
 * tandem-server.ts): whenever SSE is benched, for both Tandem legs, so WebSocket and SSE are
 * measured on the same server.
 */
export const tandemWithSse = (): boolean => opts.servers.includes('tandem-sse');

/** The largest number of connections (the last of the sorted sizes). */
export const maxSize = (): number => opts.sizes[opts.sizes.length - 1]!;

/** --report=FILE: no run, re-render the tables and targets from a results file (e.g. after changing the report). */
export const reportFrom = option('report', 'BENCH_REPORT', '');
