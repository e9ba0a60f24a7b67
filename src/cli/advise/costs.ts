import type { CostModel } from './cost-model';
import type { Feature } from './feature';

/**
 * What each way of carrying a feature's data would cost the server, from a cost model: pure
 * arithmetic, so every number the advisor prints can be checked by hand.
 */

/** The ways `tandem advise` weighs. `rest`: plain requests when the client acts, nothing kept fresh. */
export type Strategy = 'rest' | 'poll-etag' | 'poll-cdn' | 'poll-plain' | 'sse' | 'websocket';

export interface AlternativeCost {
  strategy: Strategy;
  /** How it would be done, in a line. */
  how: string;
  /** For polling: how often each client asks (the CDN, for `poll-cdn`). */
  pollIntervalMs?: number;
  /** Requests reaching the origin server per second. */
  requestsPerSecond: number;
  /** Server CPU, milliseconds per second (1,000 is one core). */
  serverCpuMsPerSecond: number;
  /** Bytes per second at the origin server's sockets. */
  bytesPerSecond: { clientToServer: number; serverToClient: number };
  /** Connections the origin keeps open (push streams, or keep-alive sockets between polls). */
  connectionsHeld: number;
  memoryBytes: number;
  /** How stale a client's copy can get, ms; null for requests the client sends (one round trip either way). */
  worstDelayMs: number | null;
}

/** A polling interval that keeps a copy within `freshnessMs`: the interval itself is the worst delay. */
export function pollIntervalFor(freshnessMs: number): number {
  return freshnessMs;
}

/** Probability that a poll `intervalMs` after the last finds a change, for changes arriving at random (Poisson). */
export function changedShare(changesPerMinute: number, intervalMs: number): number {
  return 1 - Math.exp(-(changesPerMinute / 60_000) * intervalMs);
}

interface PollShape {
  strategy: 'poll-etag' | 'poll-cdn' | 'poll-plain';
  how: string;
  pollIntervalMs: number;
  /** Requests per second at the origin. */
  originRate: number;
  /** Share of origin requests answered 200 (the rest 304). */
  okShare: number;
  connectionsHeld: number;
}

function pollCost(f: Feature, m: CostModel, shape: PollShape): AlternativeCost {
  const { originRate: rate, okShare } = shape;
  const ok = rate * okShare;
  const notModified = rate - ok;
  return {
    strategy: shape.strategy,
    how: shape.how,
    pollIntervalMs: shape.pollIntervalMs,
    requestsPerSecond: rate,
    serverCpuMsPerSecond: ok * m.cpuMsPer200 + notModified * m.cpuMsPer304,
    bytesPerSecond: {
      clientToServer: rate * m.requestHeaderBytes,
      serverToClient: ok * (f.payloadBytes + m.responseHeaderBytes.ok) + notModified * m.responseHeaderBytes.notModified,
    },
    connectionsHeld: shape.connectionsHeld,
    memoryBytes: shape.connectionsHeld * m.memoryPerConnectionBytes.poll,
    worstDelayMs: f.freshnessMs,
  };
}

/** Polling every `freshness` with If-None-Match: 304s while nothing changed. */
export function pollEtag(f: Feature, m: CostModel): AlternativeCost {
  const interval = pollIntervalFor(f.freshnessMs);
  return pollCost(f, m, {
    strategy: 'poll-etag',
    how: `GET every ${seconds(interval)} with If-None-Match (ETag; Cache-Control: private, no-cache)`,
    pollIntervalMs: interval,
    originRate: (f.clients * 1000) / interval,
    okShare: changedShare(f.changesPerMinute, interval),
    connectionsHeld: interval <= m.keepAliveMs ? f.clients : 0,
  });
}

/** Polling with no validator: every answer a 200 with the body (data that cannot be revalidated). */
export function pollPlain(f: Feature, m: CostModel): AlternativeCost {
  const interval = pollIntervalFor(f.freshnessMs);
  return pollCost(f, m, {
    strategy: 'poll-plain',
    how: `GET every ${seconds(interval)}, a full 200 each time (Cache-Control: no-store)`,
    pollIntervalMs: interval,
    originRate: (f.clients * 1000) / interval,
    okShare: 1,
    connectionsHeld: interval <= m.keepAliveMs ? f.clients : 0,
  });
}

/**
 * Shared data behind a CDN: clients poll the CDN every freshness/2, and each edge revalidates with
 * the origin at most once per max-age (freshness/2), so a copy is at most one freshness old.
 */
export function pollCdn(f: Feature, m: CostModel): AlternativeCost {
  const maxAge = f.freshnessMs / 2;
  const edges = Math.min(f.clients, m.cdnEdges);
  return pollCost(f, m, {
    strategy: 'poll-cdn',
    how: `GET every ${seconds(maxAge)} through a CDN (ETag; Cache-Control: public, max-age=${Math.max(0, Math.floor(maxAge / 1000))}, stale-while-revalidate); the origin sees ~${edges} edge revalidations per ${seconds(maxAge)}`,
    pollIntervalMs: maxAge,
    originRate: (edges * 1000) / maxAge,
    okShare: changedShare(f.changesPerMinute, maxAge),
    connectionsHeld: Math.min(f.clients, m.cdnEdges),
  });
}

/** Pushing every change over one held connection per client. */
export function push(f: Feature, m: CostModel, kind: 'sse' | 'websocket'): AlternativeCost {
  const deliveries = (f.clients * f.changesPerMinute) / 60;
  const heartbeats = (f.clients * 1000) / m.heartbeatIntervalMs;
  const heartbeatBytes = kind === 'sse' ? { out: 4, in: 0 } : { out: 6, in: 6 };
  return {
    strategy: kind,
    how: kind === 'sse' ? 'one EventSource stream per client; REST for the first load, events after (resume with Last-Event-ID)' : 'one WebSocket per client (tandem.v1); REST for the first load, pushes after',
    requestsPerSecond: 0,
    serverCpuMsPerSecond: deliveries * m.cpuMsPerPush[kind] + heartbeats * m.cpuMsPerHeartbeat,
    bytesPerSecond: {
      clientToServer: heartbeats * heartbeatBytes.in,
      serverToClient: deliveries * (f.payloadBytes + m.pushOverheadBytes[kind]) + heartbeats * heartbeatBytes.out,
    },
    connectionsHeld: f.clients,
    memoryBytes: f.clients * m.memoryPerConnectionBytes[kind],
    worstDelayMs: m.pushLatencyMs[kind],
  };
}

/** A client-initiated feature over REST: one request per message. */
export function restSends(f: Feature, m: CostModel): AlternativeCost {
  const rate = (f.clients * f.changesPerMinute) / 60;
  const gapMs = f.changesPerMinute > 0 ? 60_000 / f.changesPerMinute : Infinity;
  const held = gapMs <= m.keepAliveMs ? f.clients : 0;
  return {
    strategy: 'rest',
    how: 'POST/PUT per message; the response is the acknowledgement',
    requestsPerSecond: rate,
    // A 304 is an HTTP round trip doing almost nothing: the transport's share of any request.
    serverCpuMsPerSecond: rate * m.cpuMsPer304,
    bytesPerSecond: { clientToServer: rate * (m.requestHeaderBytes + f.payloadBytes), serverToClient: rate * m.responseHeaderBytes.notModified },
    connectionsHeld: held,
    memoryBytes: held * m.memoryPerConnectionBytes.poll,
    worstDelayMs: null,
  };
}

/** A client-initiated feature over a held WebSocket: one frame per message, a small ack back. */
export function websocketSends(f: Feature, m: CostModel): AlternativeCost {
  const rate = (f.clients * f.changesPerMinute) / 60;
  const heartbeats = (f.clients * 1000) / m.heartbeatIntervalMs;
  return {
    strategy: 'websocket',
    how: 'one WebSocket per client; each message a frame, acknowledged by a frame',
    requestsPerSecond: 0,
    serverCpuMsPerSecond: rate * m.cpuMsPerClientMessage + heartbeats * m.cpuMsPerHeartbeat,
    bytesPerSecond: { clientToServer: rate * (f.payloadBytes + m.pushOverheadBytes.websocket) + heartbeats * 6, serverToClient: rate * 24 + heartbeats * 6 },
    connectionsHeld: f.clients,
    memoryBytes: f.clients * m.memoryPerConnectionBytes.websocket,
    worstDelayMs: null,
  };
}

/** Every alternative worth weighing for `f`: how clients would poll given its cacheability, and push. */
export function alternatives(f: Feature, m: CostModel): AlternativeCost[] {
  if (f.initiator === 'client') return [restSends(f, m), websocketSends(f, m)];
  const polls = f.cache === 'public' ? [pollCdn(f, m), pollEtag(f, m)] : f.cache === 'private' ? [pollEtag(f, m)] : [pollPlain(f, m)];
  return [...polls, push(f, m, 'sse'), push(f, m, 'websocket')];
}

function seconds(ms: number): string {
  if (ms >= 60_000 && ms % 60_000 === 0) return `${ms / 60_000} min`;
  if (ms >= 1000) return `${Math.round(ms / 100) / 10} s`;
  return `${Math.round(ms)} ms`;
}
