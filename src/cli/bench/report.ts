/**
 * The saved result of `tandem bench` (`--out=report.json`), the input of the HTML report and of
 * `tandem advise --costs=report.json`. One contract for all three: change it here, with its version.
 */

export const REPORT_VERSION = 1;

/** The delivery strategies `tandem bench` compares. Long-polling is not offered by Tandem, so it is not one. */
export type StrategyName = 'poll-etag' | 'poll-plain' | 'sse' | 'websocket';

/** What the bench ran: every knob, with the value used (defaults filled in). */
export interface Workload {
  /** Connected clients per strategy. */
  clients: number;
  /** Clients watching the same resource (clients / watchersPerResource resources exist). */
  watchersPerResource: number;
  /** How often each watched resource changes, per second. */
  changesPerSecond: number;
  /** Bytes of the changing payload (JSON body of the resource; the pushed event carries the same). */
  payloadBytes: number;
  /** How often a polling client asks, in milliseconds. */
  pollIntervalMs: number;
  /** How long each strategy is measured, in seconds (after its warm-up). */
  durationSeconds: number;
  /** Warm-up per strategy, in seconds (not measured). */
  warmupSeconds: number;
}

/** Latency in milliseconds from the change's commit on the server to the client having it. */
export interface LatencySummary {
  count: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
  /** A histogram for the report's chart: `counts[i]` deliveries had latency in [edges[i], edges[i+1]). */
  histogram: { edges: number[]; counts: number[] };
}

export interface StrategyResult {
  strategy: StrategyName;
  /** A line for a person: what this strategy does on the wire. */
  description: string;
  /** Changes the server made during the measured window (across all resources). */
  changes: number;
  /** (client, change) pairs that reached the client during the window. */
  delivered: number;
  /** Deliveries expected: changes × watchers of the changed resource. */
  expected: number;
  /** Polls answered with data the client already had while a newer version existed (a stale read). */
  staleReads: number;
  /** Requests the server answered during the window (polls; 0 for push strategies beyond setup). */
  requests: number;
  /** Requests per second the server sustained during the window. */
  requestsPerSecond: number;
  /** Bytes at the socket (TCP payload: headers, framing, bodies), in each direction, during the window. */
  bytes: { clientToServer: number; serverToClient: number };
  /** bytes / delivered, in each direction. */
  bytesPerUpdate: { clientToServer: number; serverToClient: number };
  latency: LatencySummary;
  /** Server process CPU (user + system) in milliseconds, during the window. */
  serverCpuMs: number;
  /** serverCpuMs × 1000 / delivered. */
  serverCpuMsPer1000Updates: number;
  /** Server memory per connected client: (RSS with the clients connected − RSS before) / clients, in bytes. */
  serverMemoryPerClientBytes: number;
  /** Anything a reader should know about this run (errors seen, clients that failed to connect). */
  notes: string[];
  /**
   * (Optional, added) The server's JS heap per connected client: (heap used with the clients − before) / clients,
   * both after a full GC. Finer than RSS, which moves in whole pages and can hide growth in pages the
   * heap had already touched; it leaves out native memory (socket and parser buffers).
   */
  serverHeapPerClientBytes?: number;
  /** (Optional, added) Server CPU per second with the change loop running and no client connected, ms: the part of serverCpuMs every strategy pays. */
  baselineCpuMsPerSecond?: number;
  /**
   * (Optional, added) Every byte of this strategy's client connections, from before the first
   * connected to after the last closed (handshakes, auth and teardown included), as the server's
   * sockets counted them: for checking against a counter outside the server.
   */
  connections?: { opened: number; bytes: { clientToServer: number; serverToClient: number }; startedAt: string; finishedAt: string };
  /**
   * (Optional, added; poll-etag only) After the clients left: conditional GETs sent back to back
   * over a few connections, so the server answers 304s as fast as it can. `serverCpuShare` is the
   * share of a core the server used (below ~0.9 the probe's client, not the server, was the limit).
   */
  capacity?: { requestsPerSecond: number; serverCpuMsPerRequest: number; serverCpuShare: number; connections: number; errors: number; startedAt: string; finishedAt: string };
}

/** One point of the crossover: at this polling interval and change rate, which is cheaper for the server. */
export interface CrossoverPoint {
  pollIntervalMs: number;
  changesPerSecond: number;
  payloadBytes: number;
  /** Server CPU per client per second, in milliseconds, of each strategy at this point. */
  cpuMsPerClientSecond: { poll: number; push: number };
  cheaper: 'poll' | 'push';
}

/** The article's three claims, each checked against this run. */
export interface ClaimCheck {
  id: 'headers-500-800-bytes' | 'push-holds-30pct-more-users' | 'rest-10k-vs-ws-1k';
  claim: string;
  holds: boolean | 'partly';
  /** The measured numbers behind the verdict, for a person. */
  evidence: string;
}

export interface BenchReport {
  version: typeof REPORT_VERSION;
  tool: 'tandem bench';
  startedAt: string;
  finishedAt: string;
  /** Where it ran: node version, CPU model and count, OS, and the target (embedded or --url). */
  machine: { node: string; cpus: number; cpuModel: string; platform: string; target: string };
  workload: Workload;
  results: StrategyResult[];
  /** The crossover sweep (from measured per-request and per-push costs), for the report's chart. */
  crossover: CrossoverPoint[];
  claims: ClaimCheck[];
  /** (Optional, added) What the run could not measure or had to assume (long-polling; estimates). */
  notes?: string[];
  /** (Optional, added) The measured unit costs behind `crossover`, server CPU ms per answer or pushed update. */
  unitCosts?: { poll304Ms: number; poll200Ms: number; pushMs: number; push: 'websocket' | 'sse' };
  /** (Optional, added) Per polling interval: the change rate (per second) above which polling costs the server less than push; null when push is cheaper at any rate. */
  breakEven?: Array<{ pollIntervalMs: number; payloadBytes: number; changesPerSecond: number | null }>;
  /** (Optional, added) What the clients sent: browser-like or minimal request headers, and whether polls carried an access token. */
  clientProfile?: { headers: 'browser' | 'minimal'; pollAuth: 'token' | 'none' };
}
