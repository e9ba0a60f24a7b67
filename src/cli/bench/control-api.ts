/**
 * The bench server's control API (`/_bench/*`), shared by the server (server/control-routes.ts)
 * and the driver (control.ts). Control requests travel on their own connections, which the
 * server leaves out of every byte count, so steering a run never shows up in its measurements.
 */

/** The line `tandem bench serve` prints once it answers; a driver that started it waits for it. */
export const LISTENING = /tandem bench server listening on (http:\/\/\S+)/;

/** Every control route starts with this; the server's request and byte counters skip it. */
export const CONTROL_PREFIX = '/_bench/';

/** What GET /_bench/info answers: proof that the target is a `tandem bench serve` server. */
export interface ServerInfo {
  tool: 'tandem bench server';
  /** Bumped when the control API changes incompatibly. */
  apiVersion: 1;
  pid: number;
  node: string;
}

/** A clock reading of the server: microseconds of its monotonic clock (process.hrtime). */
export interface ClockReading {
  now: number;
}

export interface SetupRequest {
  /** Resources to create for this strategy (new ids each time). */
  resources: number;
  /** Accounts, each with a fresh session and access token. */
  clients: number;
  payloadBytes: number;
}

export interface SetupAnswer {
  itemIds: number[];
  tokens: string[];
}

export interface ChangesRequest {
  itemIds: number[];
  /** Changes per second of each resource. */
  changesPerSecond: number;
  payloadBytes: number;
}

/**
 * Every change the loop committed, per resource: version `firstVersion + i` was begun at
 * `at[i]` (server clock, µs). `behind` counts ticks at which the loop could not keep its pace.
 */
export interface CommitLog {
  items: Array<{ id: number; firstVersion: number; at: number[] }>;
  behind: number;
}

/** GET /_bench/stats[?gc=1[&prime=1]]: the server's counters now (after a full GC with gc=1; prime=1 first grows the young generation to its full size). */
export interface ServerStats {
  now: number;
  /** process.cpuUsage(): user + system, µs, since the process started. */
  cpuMicros: number;
  rss: number;
  heapUsed: number;
  /** TCP payload bytes of every non-control connection since start: read (client → server) and written. */
  bytesIn: number;
  bytesOut: number;
  /** Non-control connections: open now, and accepted since start. */
  openSockets: number;
  acceptedSockets: number;
  /** HTTP requests received since start, control requests not counted. */
  requests: number;
  /** Realtime connections and subscriptions (server.stats()). */
  realtimeConnections: number;
  subscriptions: number;
}
