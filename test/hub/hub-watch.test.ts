import { describe, expect, it } from 'vitest';
import { MemoryBroker, type BrokerMessage } from '../../src/server/broker';
import { Hub } from '../../src/server/hub';
import { SlowBroker, subscriber } from './support';

/** A memory broker that records watches and lets a test report a gap, as a Redis broker would. */
class WatchingBroker extends SlowBroker {
  readonly watched = new Map<string, number>();
  readonly #gapListeners = new Set<(channel: string | undefined) => void>();

  override async watch(channel: string): Promise<void> {
    this.watched.set(channel, (this.watched.get(channel) ?? 0) + 1);
    return super.watch(channel);
  }

  override unwatch(channel: string): void {
    this.watched.delete(channel);
    super.unwatch(channel);
  }

  override onGap(listener: (channel: string | undefined) => void): () => void {
    this.#gapListeners.add(listener);
    return () => this.#gapListeners.delete(listener);
  }

  readonly #messageListeners = new Set<(message: BrokerMessage) => void>();

  override onMessage(listener: (message: BrokerMessage) => void): () => void {
    const stop = super.onMessage(listener);
    this.#messageListeners.add(listener);
    return () => {
      stop();
      this.#messageListeners.delete(listener);
    };
  }

  /** Delivers a message as the other nodes' publications arrive: whatever Redis sends, repeats included. */
  arrive(message: BrokerMessage): void {
    for (const listener of this.#messageListeners) listener(message);
  }

  gap(channel: string | undefined): void {
    for (const listener of this.#gapListeners) listener(channel);
  }
}

function setup() {
  const broker = new WatchingBroker(new MemoryBroker());
  const hub = new Hub({ broker });
  hub.definePolicy('post', { canSubscribe: () => true });
  return { broker, hub };
}

describe('the hub and the broker’s node-wide subscriptions', () => {
  it('watches a channel before reading its history, so nothing published in between is missed', async () => {
    const { broker, hub } = setup();
    await hub.subscribe(subscriber({ id: 1 }), 'post:1', { e: (await broker.position('post:1')).epoch, o: 0 });
    expect(broker.calls.filter((c) => c.endsWith('post:1'))).toEqual(['position post:1', 'watch post:1', 'history post:1']);
  });

  it('unwatches when the node’s last subscriber of the channel leaves, and only then', async () => {
    const { broker, hub } = setup();
    const alice = subscriber({ id: 1 });
    const bob = subscriber({ id: 2 });
    await hub.subscribe(alice, 'post:1');
    await hub.subscribe(bob, 'post:1');
    await hub.unsubscribe(alice, 'post:1');
    expect(broker.watched.has('post:1')).toBe(true);
    hub.removeSubscriber(bob);
    expect(broker.watched.has('post:1')).toBe(false);
    await hub.subscribe(alice, 'post:1');
    expect(broker.watched.has('post:1')).toBe(true);
  });

  it('a refused subscribe leaves no watch behind', async () => {
    const { broker, hub } = setup();
    hub.definePolicy('secret', { canSubscribe: () => false });
    await expect(hub.subscribe(subscriber({ id: 1 }), 'secret:1')).rejects.toMatchObject({ code: 'forbidden' });
    expect(broker.watched.size).toBe(0);
  });

  it('a gap on a channel interrupts that channel’s subscribers once each; a gap everywhere interrupts all', async () => {
    const { broker, hub } = setup();
    const alice = subscriber({ id: 1 });
    const bob = subscriber({ id: 2 });
    await hub.subscribe(alice, 'post:1');
    await hub.subscribe(alice, 'post:2');
    await hub.subscribe(bob, 'post:2');
    broker.gap('post:1');
    expect([alice.interrupted, bob.interrupted]).toEqual([1, 0]);
    broker.gap(undefined);
    expect([alice.interrupted, bob.interrupted]).toEqual([2, 1]);
    broker.gap('post:404');
    expect([alice.interrupted, bob.interrupted]).toEqual([2, 1]);
  });

  it('a publication that arrives live after the replay already gave it is not sent again', async () => {
    const { broker, hub } = setup();
    for (let offset = 1; offset <= 3; offset += 1) await broker.publish({ channel: 'post:1', offset, event: 'e', data: offset });
    const alice = subscriber({ id: 1 });
    const { epoch } = await broker.position('post:1');
    const answer = await hub.subscribe(alice, 'post:1', { e: epoch, o: 1 });
    expect(answer.pubs?.map((p) => p.o)).toEqual([2, 3]);
    // On a cluster the live copy of 3 can come after the replay read on another connection.
    broker.arrive({ channel: 'post:1', offset: 3, event: 'e', data: 3 });
    broker.arrive({ channel: 'post:1', offset: 4, event: 'e', data: 4 });
    broker.arrive({ channel: 'post:1', offset: 4, event: 'e', data: 4 });
    expect(alice.offsets()).toEqual([4]);
  });

  it('a closed hub stops listening for gaps', async () => {
    const { broker, hub } = setup();
    const alice = subscriber({ id: 1 });
    await hub.subscribe(alice, 'post:1');
    await hub.close();
    broker.gap(undefined);
    expect(alice.interrupted).toBe(0);
  });
});
