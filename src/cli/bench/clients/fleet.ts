/**
 * The clients of one strategy: `clients` of them, client i watching resource ⌊i / watchers⌋,
 * their schedules (polls, pings) at random phases within one interval, opened a few at a time,
 * closed together.
 */
import type { StrategyName } from '../report';
import type { Observations } from '../observations';
import { fetchHeaders, handshakeHeaders, PAGE, type HeaderProfile } from './headers';
import { Poller } from './poller';
import { SseClient } from './sse-client';
import { PING_INTERVAL_MS, WsClient } from './ws-client';

export interface FleetOptions {
  strategy: StrategyName;
  base: URL;
  itemIds: number[];
  tokens: string[];
  watchersPerResource: number;
  pollIntervalMs: number;
  headerProfile: HeaderProfile;
  /** Whether polls carry the access token (push clients always authenticate: the protocol requires it). */
  pollWithToken: boolean;
  observations: Observations;
}

interface Client {
  connect(phaseMs: number): Promise<void>;
  close(): Promise<void>;
  readonly skipped?: number;
  setPace?(factor: number): void;
}

export interface Fleet {
  readonly size: number;
  /** Errors after connecting (failed polls, dropped streams), and the first few messages. */
  errors(): { count: number; first: string[] };
  /** Poll ticks skipped because the previous poll was still out. */
  skippedPolls(): number;
  /** Polling clients poll `factor` times as often (1: at the workload's interval); push clients are unaffected. */
  setPace(factor: number): void;
  close(): Promise<void>;
}

const CONNECT_CONCURRENCY = 32;

/** Opens every client (`onConnected` after each); rejects with the first failure, after closing those opened. */
export async function openFleet(options: FleetOptions, onConnected: (connected: number) => void): Promise<Fleet> {
  const errors = { count: 0, first: [] as string[] };
  const onError = (error: Error) => {
    errors.count += 1;
    if (errors.first.length < 5) errors.first.push(error.message);
  };
  const clients = options.tokens.map((token, index) => clientFor(options, token, index, onError));
  const fleet: Fleet = {
    size: clients.length,
    errors: () => ({ count: errors.count, first: [...errors.first] }),
    skippedPolls: () => clients.reduce((sum, c) => sum + (c.skipped ?? 0), 0),
    setPace: (factor) => clients.forEach((c) => c.setPace?.(factor)),
    close: async () => void (await Promise.all(clients.map((c) => c.close()))),
  };
  const spreadMs = options.strategy.startsWith('poll') ? options.pollIntervalMs : PING_INTERVAL_MS;
  let next = 0;
  let connected = 0;
  const worker = async () => {
    while (next < clients.length) {
      const index = next++;
      // Random phases, as independent browsers have: no client's schedule lines up with the changes.
      await clients[index]!.connect(Math.random() * spreadMs);
      onConnected(++connected);
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(CONNECT_CONCURRENCY, clients.length) }, worker));
  } catch (error) {
    await fleet.close();
    throw new Error(`${options.strategy}: a client could not connect: ${(error as Error).message}`);
  }
  return fleet;
}

function clientFor(options: FleetOptions, token: string, index: number, onError: (error: Error) => void): Client {
  const { base, strategy, observations, headerProfile } = options;
  const itemId = options.itemIds[Math.floor(index / options.watchersPerResource)]!;
  if (strategy === 'poll-etag' || strategy === 'poll-plain') {
    return new Poller({
      base,
      path: options.pollWithToken ? `/api/my/items/${itemId}` : `/api/items/${itemId}`,
      token: options.pollWithToken ? token : undefined,
      conditional: strategy === 'poll-etag',
      intervalMs: options.pollIntervalMs,
      headers: fetchHeaders(headerProfile, base.origin, PAGE),
      index,
      observations,
      onError,
    });
  }
  const push = { base, channel: `item:${itemId}`, token, index, observations, onError };
  if (strategy === 'sse') return new SseClient({ ...push, headers: fetchHeaders(headerProfile, base.origin, PAGE) });
  return new WsClient({ ...push, headers: handshakeHeaders(headerProfile, base.origin) });
}
