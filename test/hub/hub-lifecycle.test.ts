import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { MemoryBroker } from '../../src/server/broker';
import { Hub, type HubOptions, type HubStats } from '../../src/server/hub';
import { events, settle, SlowBroker, subscriber, type FakeSubscriber } from './support';

const empty: HubStats = { channels: 0, subscriptions: 0, subscribers: 0, presenceEntries: 0, pendingTimers: 0 };

function setup(options: Partial<HubOptions> = {}) {
  const memory = new MemoryBroker();
  const broker = new SlowBroker(memory);
  const hub = new Hub({ broker, presenceGraceMs: 5000, ...options });
  hub.definePolicy('post', { canSubscribe: async () => true, presence: 'users' });
  hub.definePolicy('feed', { canSubscribe: () => true, presence: 'counts' });
  hub.definePolicy('user', { canSubscribe: (user, _channel, param) => String(user.id) === param });
  return { hub, broker, memory };
}

/** A small deterministic PRNG, so a failing churn run can be replayed. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

describe('Hub lifecycle', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('removeSubscriber clears every map at once and presence after the grace period', async () => {
    const { hub } = setup();
    const a = subscriber({ id: 1 });
    const b = subscriber({ id: 2 });
    for (const channel of ['post:1', 'post:2', 'feed', 'user:1']) await hub.subscribe(a, channel);
    await hub.subscribe(b, 'post:1');
    expect(hub.stats()).toEqual({ channels: 4, subscriptions: 5, subscribers: 2, presenceEntries: 4, pendingTimers: 0 });
    hub.removeSubscriber(a);
    hub.removeSubscriber(b);
    hub.removeSubscriber(b);
    expect(hub.stats()).toEqual({ channels: 0, subscriptions: 0, subscribers: 0, presenceEntries: 4, pendingTimers: 4 });
    vi.advanceTimersByTime(5000);
    expect(hub.stats()).toEqual(empty);
  });

  it('is all zero after 2,000 random subscribe / unsubscribe / disconnect / publish cycles', async () => {
    const { hub, broker, memory } = setup();
    const next = random(42);
    const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)]!;
    const channels = ['post:1', 'post:2', 'post:3', 'feed', 'user:1', 'user:2', 'nope'];
    let connections: FakeSubscriber[] = [];
    const pending: Promise<unknown>[] = [];
    let offset = 0;
    const outcomes: { ok: number; [code: string]: number } = { ok: 0 };
    for (let cycle = 0; cycle < 2000; cycle += 1) {
      const roll = next();
      if (roll < 0.1 || connections.length === 0) {
        connections.push(subscriber({ id: 1 + Math.floor(next() * 3) }));
      } else if (roll < 0.5) {
        const since = next() < 0.5 ? { e: memory.epoch, o: Math.floor(next() * (offset + 2)) } : undefined;
        if (next() < 0.2 && broker.gate === undefined) broker.hold();
        pending.push(hub.subscribe(pick(connections), pick(channels), since).then(
          () => (outcomes.ok += 1),
          (error: { code: string }) => (outcomes[error.code] = (outcomes[error.code] ?? 0) + 1),
        ));
      } else if (roll < 0.7) {
        pending.push(hub.unsubscribe(pick(connections), pick(channels)));
      } else if (roll < 0.8) {
        const gone = pick(connections);
        hub.removeSubscriber(gone);
        connections = connections.filter((c) => c !== gone);
      } else if (roll < 0.9) {
        offset += 1;
        pending.push(hub.publishCommitted(events(pick(channels), offset, offset)));
      } else {
        broker.gate?.resolve();
        broker.gate = undefined;
        vi.advanceTimersByTime(Math.floor(next() * 6000));
        await settle();
      }
    }
    broker.gate?.resolve();
    broker.gate = undefined;
    await Promise.all(pending);
    // The run exercised the interesting paths, and no connection ever saw an offset twice or out of order.
    expect(outcomes.ok).toBeGreaterThan(100);
    expect(Object.keys(outcomes)).toEqual(expect.arrayContaining(['unknown_channel', 'forbidden', 'already_subscribed', 'not_subscribed']));
    for (const connection of connections) {
      const byChannel = new Map<string, number>();
      for (const frame of connection.frames()) {
        if (frame.t !== 'pub') continue;
        expect(frame.o as number).toBeGreaterThan(byChannel.get(frame.ch as string) ?? 0);
        byChannel.set(frame.ch as string, frame.o as number);
      }
    }
    expect(hub.stats().subscribers).toBeGreaterThan(0);
    for (const connection of connections) hub.removeSubscriber(connection);
    expect(hub.stats()).toMatchObject({ channels: 0, subscriptions: 0, subscribers: 0 });
    vi.advanceTimersByTime(5000);
    expect(hub.stats()).toEqual(empty);
  });

  it('close() ends delivery and every subscription, cancels those in flight and refuses new work', async () => {
    const { hub, broker, memory } = setup();
    const a = subscriber({ id: 1 });
    await hub.subscribe(a, 'post:1');
    broker.hold();
    const inFlight = hub.subscribe(a, 'post:2');
    await settle();
    await hub.close();
    broker.gate?.resolve();
    await expect(inFlight).rejects.toMatchObject({ code: 'not_subscribed' });
    expect(hub.stats()).toEqual(empty);
    await memory.publish({ channel: 'post:1', offset: 1, event: 'e', data: null });
    expect(a.sent).toEqual([]);
    await expect(hub.subscribe(a, 'post:1')).rejects.toMatchObject({ code: 'unavailable' });
    await expect(hub.publishCommitted(events('post:1', 2, 2))).rejects.toMatchObject({ code: 'unavailable' });
    await hub.close();
  });
});
