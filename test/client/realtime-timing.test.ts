import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { RealtimeClient, type ConnectionStateChange, type NetworkEvents, type RealtimeClientOptions, type RealtimeMessage } from '../../src/client/index';
import { accept, FakeSocket, latest } from './fake-socket';

/**
 * The RealtimeClient's timing with fake timers and a scripted WebSocket: heartbeats, backoff,
 * retry hints, request timeouts, stale attempts and network events. No server.
 */

function makeClient(options: Partial<RealtimeClientOptions> = {}) {
  const tokens = { getFresh: vi.fn(async () => 'token-1'), refreshAfterRejection: vi.fn(async () => 'token-2'), onChange: () => () => {} };
  const client = new RealtimeClient({ url: 'ws://test/realtime', tokens, WebSocket: FakeSocket, fetch: null, random: () => 0.5, backoff: { baseMs: 100, capMs: 1_000 }, heartbeatIntervalMs: 1_000, ...options });
  const states: ConnectionStateChange[] = [];
  client.on('state', (c) => states.push(c));
  return { client, tokens, states };
}

beforeEach(() => {
  vi.useFakeTimers();
  FakeSocket.instances = [];
});
afterEach(() => {
  vi.useRealTimers();
});

describe('connecting and subscribing', () => {
  it('offers tandem.v1, sends auth first, then resubscribes; an ack and publications in one message are all delivered', async () => {
    const { client, states } = makeClient();
    const seen: RealtimeMessage[] = [];
    client.subscribe('post:1', (m) => seen.push(m));
    client.connect();
    expect(latest().protocols).toBe('tandem.v1');
    await accept();
    expect(states.map((s) => s.state)).toEqual(['connecting', 'open']);
    expect(latest().sent.map((f) => f.t)).toEqual(['auth', 'sub']);
    const sub = latest().last('sub')!;
    expect(sub).toEqual({ t: 'sub', id: sub.id, ch: 'post:1' });
    // The server coalesces: the ack and the first live publications arrive in one message.
    latest().receive({ t: 'ack', id: sub.id, d: { e: 'e1', o: 4 } }, { t: 'pub', ch: 'post:1', o: 5, ev: 'x', d: 5 }, { t: 'pub', ch: 'post:1', o: 5, ev: 'x', d: 5 }, { t: 'pub', ch: 'post:1', o: 6, ev: 'x', d: 6 });
    expect(seen.map((m) => m.offset)).toEqual([5, 6]);
    expect(client.subscription('post:1')!.position).toEqual({ e: 'e1', o: 6 });

    // After a drop, it subscribes again from the last offset seen, and drops the replay's overlap.
    latest().serverClose(4500, 'slow_consumer');
    await vi.advanceTimersByTimeAsync(1_000);
    await accept();
    const again = latest().last('sub')!;
    expect(again.since).toEqual({ e: 'e1', o: 6 });
    latest().receive({ t: 'ack', id: again.id, d: { e: 'e1', o: 8, rec: true, pubs: [{ t: 'pub', ch: 'post:1', o: 6, ev: 'x', d: 6 }, { t: 'pub', ch: 'post:1', o: 7, ev: 'x', d: 7 }, { t: 'pub', ch: 'post:1', o: 8, ev: 'x', d: 8 }] } });
    expect(seen.map((m) => m.offset)).toEqual([5, 6, 7, 8]);
    client.disconnect();
  });

  it('rec: false emits resync with the new position and continues from it', async () => {
    const { client } = makeClient();
    const resyncs: unknown[] = [];
    client.on('resync', (...args) => resyncs.push(args));
    const seen: number[] = [];
    const subscription = client.subscribe('post:1', (m) => seen.push(m.offset!), { since: { e: 'old', o: 9 } });
    const ownResyncs: unknown[] = [];
    subscription.on('resync', (...args) => ownResyncs.push(args));
    client.connect();
    await accept();
    const sub = latest().last('sub')!;
    expect(sub.since).toEqual({ e: 'old', o: 9 });
    latest().receive({ t: 'ack', id: sub.id, d: { e: 'new', o: 3, rec: false, why: 'epoch_changed' } }, { t: 'pub', ch: 'post:1', o: 4, ev: 'x', d: 4 });
    expect(resyncs).toEqual([['post:1', { e: 'new', o: 3 }, 'epoch_changed']]);
    expect(ownResyncs).toEqual([[{ e: 'new', o: 3 }, 'epoch_changed']]);
    expect(seen).toEqual([4]);
    client.disconnect();
  });
});

describe('timing', () => {
  it('pings every interval while frames arrive; two silent intervals → abort and reconnect', async () => {
    const { client, states } = makeClient();
    client.connect();
    await accept();
    const socket = latest();
    for (let i = 0; i < 3; i += 1) {
      await vi.advanceTimersByTimeAsync(1_000);
      expect(socket.sent.filter((f) => f.t === 'ping')).toHaveLength(i + 1);
      socket.receive({ t: 'pong' });
    }
    await vi.advanceTimersByTimeAsync(2_000);
    expect(states.at(-1)).toMatchObject({ state: 'reconnecting', code: 1006, reason: 'heartbeat_timeout' });
    expect(socket.closedWith).toBeDefined();
    client.disconnect();
  });

  it('backs off with full jitter across failed attempts and resets after a stable open', async () => {
    const { client, states } = makeClient({ backoff: { baseMs: 100, capMs: 1_000, stableMs: 5_000 }, random: () => 0.999, heartbeatIntervalMs: 60_000 });
    client.connect();
    const delays: number[] = [];
    for (let i = 0; i < 5; i += 1) {
      latest().serverClose(1006);
      const change = states.at(-1)!;
      delays.push(Math.round(change.nextAttemptAt! - Date.now()));
      await vi.advanceTimersByTimeAsync(change.nextAttemptAt! - Date.now());
    }
    expect(delays).toEqual([100, 200, 400, 799, 999]);
    await accept();
    await vi.advanceTimersByTimeAsync(6_000);
    latest().serverClose(4500);
    expect(Math.round(states.at(-1)!.nextAttemptAt! - Date.now())).toBe(100);
    client.disconnect();
  });

  it("1012 waits exactly the server's retry_ms, then fetches a token and reconnects", async () => {
    const { client, states, tokens } = makeClient();
    client.connect();
    await accept();
    latest().serverClose(1012, '{"retry_ms":2500}');
    expect(states.at(-1)).toMatchObject({ state: 'reconnecting', code: 1012, nextAttemptAt: Date.now() + 2_500 });
    await vi.advanceTimersByTimeAsync(2_499);
    expect(FakeSocket.instances).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(FakeSocket.instances).toHaveLength(2);
    expect(tokens.getFresh).toHaveBeenCalledTimes(2);
    client.disconnect();
  });

  it('4501: the next auth uses a token refreshed after the rejection, never the rejected one', async () => {
    const { client, tokens } = makeClient();
    client.connect();
    await accept();
    latest().serverClose(4501, 'token_expired');
    await vi.advanceTimersByTimeAsync(1_000);
    latest().open();
    await vi.advanceTimersByTimeAsync(0);
    expect(tokens.refreshAfterRejection).toHaveBeenCalledWith('token-1');
    expect(latest().last('auth')!.tok).toBe('token-2');
    client.disconnect();
  });

  it('a subscribe without an answer times out: the connection is dropped and restored', async () => {
    const { client, states } = makeClient({ requestTimeoutMs: 3_000, heartbeatIntervalMs: 60_000 });
    client.subscribe('post:1', () => {});
    client.connect();
    await accept();
    await vi.advanceTimersByTimeAsync(3_000);
    expect(states.at(-1)).toMatchObject({ state: 'reconnecting', reason: 'subscribe_timeout' });
    client.disconnect();
  });

  it('a token from an older attempt is never sent on a newer connection (generation)', async () => {
    const pending: Array<(token: string) => void> = [];
    const tokens = { getFresh: vi.fn(() => new Promise<string>((resolve) => pending.push(resolve))), refreshAfterRejection: vi.fn(async () => 'x'), onChange: () => () => {} };
    const { client } = makeClient({ tokens });
    client.connect();
    const first = latest();
    first.open();
    first.serverClose(1006); // dies before its token arrived
    await vi.advanceTimersByTimeAsync(1_000); // backoff, then the second attempt
    const second = latest();
    expect(second).not.toBe(first);
    second.open();
    expect(pending).toHaveLength(2);
    pending[1]!('token-new');
    await vi.advanceTimersByTimeAsync(0);
    pending[0]!('token-late');
    await vi.advanceTimersByTimeAsync(0);
    expect(second.sent.filter((f) => f.t === 'auth').map((f) => f.tok)).toEqual(['token-new']);
    expect([...first.sent, ...second.sent].some((f) => f.tok === 'token-late')).toBe(false);
    client.disconnect();
  });

  it('offline aborts the socket; online retries at once instead of waiting out the backoff', async () => {
    const listeners = new Map<string, () => void>();
    const network: NetworkEvents = { addEventListener: (type, l) => listeners.set(type, l), removeEventListener: (type) => listeners.delete(type) };
    const { client, states } = makeClient({ network, backoff: { baseMs: 60_000, capMs: 60_000 }, random: () => 0.9 });
    client.connect();
    await accept();
    listeners.get('offline')!();
    expect(states.at(-1)).toMatchObject({ state: 'reconnecting', reason: 'offline' });
    listeners.get('online')!();
    expect(states.at(-1)!.state).toBe('connecting');
    expect(FakeSocket.instances).toHaveLength(2);
    client.disconnect();
    expect(listeners.size).toBe(0);
  });

  it('an exp frame → a refreshed token in a refresh frame', async () => {
    const { client, tokens } = makeClient();
    client.connect();
    await accept();
    latest().receive({ t: 'exp', in: 30 });
    await vi.advanceTimersByTimeAsync(0);
    expect(tokens.refreshAfterRejection).toHaveBeenCalledWith('token-1');
    expect(latest().last('refresh')).toMatchObject({ t: 'refresh', tok: 'token-2' });
    client.disconnect();
  });
});

describe('retryNow', () => {
  it('skips the rest of the backoff wait; a no-op in any other state', async () => {
    const { client, states } = makeClient({ backoff: { baseMs: 10_000, capMs: 10_000 }, heartbeatIntervalMs: 60_000 });
    client.retryNow(); // idle
    expect(FakeSocket.instances).toHaveLength(0);
    client.connect();
    await accept();
    client.retryNow(); // open
    expect(FakeSocket.instances).toHaveLength(1);
    latest().serverClose(4500, 'slow_consumer');
    expect(client.state).toBe('reconnecting');
    expect(states.at(-1)!.nextAttemptAt! - Date.now()).toBeGreaterThan(1_000);
    client.retryNow();
    expect(FakeSocket.instances).toHaveLength(2);
    expect(client.state).toBe('connecting');
    await accept();
    expect(client.state).toBe('open');
    // The wait it skipped does not fire later as a second attempt.
    await vi.advanceTimersByTimeAsync(20_000);
    expect(FakeSocket.instances).toHaveLength(2);
    client.disconnect();
  });
});
