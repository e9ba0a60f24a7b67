/**
 * The reconnect-storm bench's knobs (issue 13): each a `--name=value` flag or a BENCH_STORM_*
 * variable, with two presets (the default, 10,000 clients and 3 rounds, and --quick, 1,000
 * clients and 1 round). run.ts documents the run; docs/performance.md ("Reconnect storm") the
 * settings the Tandem node runs with and why.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { intOption, option } from '../common/options';

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const ROOT = path.resolve(HERE, '..', '..');

export const quick = process.argv.includes('--quick') || process.env.BENCH_STORM_QUICK === '1';
const preset = <T>(full: T, short: T): T => (quick ? short : full);

export type ServerKind = 'tandem' | 'socketio';
export type RestartMode = 'sigterm' | 'sigkill';
export const LABEL: Record<ServerKind, string> = { tandem: 'Tandem', socketio: 'Socket.IO' };

export const opts = {
  quick,
  clients: intOption('clients', 'BENCH_STORM_CLIENTS', preset(10_000, 1_000)),
  rounds: intOption('rounds', 'BENCH_STORM_ROUNDS', preset(3, 1)),
  servers: option('servers', 'BENCH_STORM_SERVERS', 'tandem,socketio').split(',').map((s) => s.trim()).filter(Boolean) as ServerKind[],
  /** How the server is stopped: SIGTERM (graceful drain, the usual deploy) or SIGKILL (a crash). */
  restart: option('restart', 'BENCH_STORM_RESTART', 'sigterm') as RestartMode,
  /** Client source addresses 127.0.0.2 … 127.0.0.(1+N), the clients spread evenly over them. */
  addresses: intOption('addresses', 'BENCH_STORM_ADDRESSES', 10),
  /** Posts published before the restart (all clients receive them live) and right after it, during the storm. */
  before: intOption('before', 'BENCH_STORM_BEFORE', 3, 0),
  during: intOption('during', 'BENCH_STORM_DURING', 5, 0),
  /** The unrelated reader: one GET every N ms (open loop), from its own address. */
  readerIntervalMs: intOption('reader-interval-ms', 'BENCH_STORM_READER_INTERVAL_MS', 25),
  /**
   * The reader's idle window, with every client connected and quiet, before the restart: by
   * default just over one heartbeat interval (25 s), so the idle figure includes the server's
   * periodic work (Tandem pings every connection in one sweep) as the storm window does.
   */
  idleSeconds: intOption('idle-seconds', 'BENCH_STORM_IDLE_SECONDS', preset(26, 5)),
  /** A storm not over this long after the server listens again is reported with whoever made it. */
  stormTimeoutSeconds: intOption('storm-timeout-seconds', 'BENCH_STORM_TIMEOUT_SECONDS', 60),
  /**
   * The Tandem node's node-wide admission pace (TANDEM_WS_NEW_CONNECTIONS_PER_SECOND) and per-IP
   * handshake rate (TANDEM_WS_HANDSHAKES_PER_IP); see docs/performance.md for the choice.
   */
  nodeRate: intOption('node-rate', 'BENCH_STORM_NODE_RATE', 1_000),
  handshakesPerIp: intOption('handshakes-per-ip', 'BENCH_STORM_HANDSHAKES_PER_IP', 200),
  /** Diagnostics: the Tandem node's TANDEM_WS_HEARTBEAT_MS (0: its default, 25 s). */
  heartbeatMs: intOption('heartbeat-ms', 'BENCH_STORM_HEARTBEAT_MS', 0, 0),
  serverCpu: intOption('server-cpu', 'BENCH_STORM_SERVER_CPU', 0, 0),
  loadCpu: intOption('load-cpu', 'BENCH_STORM_LOAD_CPU', 1, 0),
  /** Extra node flags for the servers, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof". */
  serverNodeArgs: option('server-node-args', 'BENCH_STORM_SERVER_NODE_ARGS', '').split(/\s+/).filter(Boolean),
  out: option('out', 'BENCH_STORM_OUT', path.join(ROOT, 'bench', 'results', 'storm-latest.json')),
  /** No run: print the tables of a saved results file. */
  report: option('report', 'BENCH_STORM_REPORT', ''),
  maxSeconds: intOption('max-seconds', 'BENCH_STORM_MAX_SECONDS', preset(900, 150)),
};

for (const s of opts.servers) if (s !== 'tandem' && s !== 'socketio') throw new Error(`--servers: tandem and/or socketio, got ${s}`);
if (opts.restart !== 'sigterm' && opts.restart !== 'sigkill') throw new Error(`--restart: sigterm or sigkill, got ${opts.restart}`);
if (opts.addresses > 200) throw new Error('--addresses: at most 200 (127.0.0.2 … 127.0.0.201)');

/** The client source addresses, and the reader's own (not one of them). */
export const clientAddresses = (): string[] => Array.from({ length: opts.addresses }, (_, i) => `127.0.0.${2 + i}`);
export const READER_ADDRESS = '127.0.0.254';
export const HOST = '127.0.0.1';

/** The targets. */
export const GOALS = { p99Seconds: 15, allSeconds: 30, restRatio: 10 } as const;
/** A core at least this busy is the bottleneck. */
export const SATURATED = 0.85;
