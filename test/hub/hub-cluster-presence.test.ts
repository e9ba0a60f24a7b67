import { describe, expect, it } from 'vitest';
import type { PresenceUser } from '../../src/protocol/frames';
import { MemoryBroker } from '../../src/server/broker';
import { Hub, type PresenceChange, type PresenceExchange } from '../../src/server/hub';
import { deferred, settle, subscriber, type Deferred } from './support';

/** Nodes' presence entries in one process, as the Redis exchange keeps them: node → channel → users. */
class Exchanges {
  readonly entries = new Map<string, Map<string, Map<number, PresenceUser>>>();
  readonly #listeners = new Map<string, Set<(change: PresenceChange) => void>>();
  /** When set, snapshots are read at once but answered only when it resolves. */
  gate: Deferred | undefined;

  node(nodeId: string): PresenceExchange {
    const listeners = new Set<(change: PresenceChange) => void>();
    this.#listeners.set(nodeId, listeners);
    return {
      nodeId,
      publish: (channel, kind, user) => {
        const channels = this.entries.get(nodeId) ?? new Map<string, Map<number, PresenceUser>>();
        this.entries.set(nodeId, channels);
        const users = channels.get(channel) ?? new Map<number, PresenceUser>();
        channels.set(channel, users);
        if (kind === 'join') users.set(user.id, user);
        else users.delete(user.id);
        this.#tell(nodeId, { kind, channel, node: nodeId, user });
      },
      snapshot: async (channel) => {
        const all: Array<{ node: string; user: PresenceUser }> = [];
        for (const [node, channels] of this.entries) for (const user of channels.get(channel)?.values() ?? []) all.push({ node, user });
        await this.gate?.promise;
        return all;
      },
      onChange: (listener) => {
        listeners.add(listener);
        return () => listeners.delete(listener);
      },
    };
  }

  /** A node died: its entries go, and every other node hears it. */
  kill(nodeId: string): void {
    this.entries.delete(nodeId);
    this.#listeners.delete(nodeId);
    this.#tell(nodeId, { kind: 'node_gone', node: nodeId });
  }

  #tell(from: string, change: PresenceChange): void {
    for (const [node, listeners] of this.#listeners) if (node !== from) for (const listener of listeners) listener(change);
  }
}

function cluster() {
  const broker = new MemoryBroker();
  const exchanges = new Exchanges();
  const timers: Array<() => void> = [];
  let now = 0;
  const hub = (node: string) => {
    const h = new Hub({
      broker,
      presenceExchange: exchanges.node(node),
      presenceGraceMs: 1000,
      clock: () => now,
      setTimer: (callback) => timers.push(callback),
      clearTimer: () => undefined,
    });
    h.definePolicy('room', { canSubscribe: () => true, presence: 'users' });
    h.definePolicy('hall', { canSubscribe: () => true, presence: 'counts' });
    return h;
  };
  return { exchanges, a: hub('a'), b: hub('b'), runTimers: () => {
    now += 1000;
    timers.splice(0).forEach((run) => run());
  } };
}

const presenceFrames = (s: ReturnType<typeof subscriber>) => s.frames().filter((f) => f.t === 'join' || f.t === 'leave').map((f) => `${String(f.t)} ${(f.u as PresenceUser).n}`);

describe('presence across nodes (the union of every node’s users)', () => {
  it('a user on node B is in the snapshot and the join frames of a subscriber on node A', async () => {
    const { a, b } = cluster();
    const alice = subscriber({ id: 1, name: 'alice' });
    const bob = subscriber({ id: 2, name: 'bob' });
    await b.subscribe(bob, 'room:1');
    const answer = await a.subscribe(alice, 'room:1');
    expect(answer.pres).toEqual([{ id: 2, n: 'bob' }, { id: 1, n: 'alice' }]);
    expect(presenceFrames(bob)).toEqual(['join alice']);
    expect(await a.presence('room:1')).toEqual(await b.presence('room:1'));
  });

  it('a user on both nodes leaves only when gone from both (after each node’s grace)', async () => {
    const { a, b, runTimers } = cluster();
    const watcher = subscriber({ id: 9, name: 'carol' });
    await a.subscribe(watcher, 'room:1');
    const bobOnA = subscriber({ id: 2, name: 'bob' });
    const bobOnB = subscriber({ id: 2, name: 'bob' });
    await a.subscribe(bobOnA, 'room:1');
    await b.subscribe(bobOnB, 'room:1');
    expect(presenceFrames(watcher)).toEqual(['join bob']);
    a.removeSubscriber(bobOnA);
    runTimers();
    expect(presenceFrames(watcher)).toEqual(['join bob']);
    b.removeSubscriber(bobOnB);
    runTimers();
    expect(presenceFrames(watcher)).toEqual(['join bob', 'leave bob']);
  });

  it('counts add up across nodes', async () => {
    const { a, b } = cluster();
    await a.subscribe(subscriber({ id: 1 }), 'hall');
    await b.subscribe(subscriber({ id: 2 }), 'hall');
    await b.subscribe(subscriber({ id: 1 }), 'hall');
    expect(await a.presence('hall')).toEqual({ n: 2 });
    expect(await b.presence('hall')).toEqual({ n: 2 });
  });

  it('a node that dies takes its users with it: the others hear leaves for them', async () => {
    const { exchanges, a, b } = cluster();
    const alice = subscriber({ id: 1, name: 'alice' });
    await a.subscribe(alice, 'room:1');
    await b.subscribe(subscriber({ id: 2, name: 'bob' }), 'room:1');
    await b.subscribe(subscriber({ id: 1, name: 'alice' }), 'room:1');
    exchanges.kill('b');
    await settle();
    expect(presenceFrames(alice)).toEqual(['join bob', 'leave bob']);
    expect(await a.presence('room:1')).toEqual([{ id: 1, n: 'alice' }]);
  });

  it('changes that arrive while a channel’s snapshot loads are applied after it', async () => {
    const { exchanges, a, b, runTimers } = cluster();
    const bob = subscriber({ id: 2, name: 'bob' });
    const carol = subscriber({ id: 3, name: 'carol' });
    const alice = subscriber({ id: 1, name: 'alice' });
    await b.subscribe(carol, 'room:1');
    const gate = deferred();
    exchanges.gate = gate;
    const subscribing = a.subscribe(alice, 'room:1');
    await settle();
    exchanges.gate = undefined;
    // A has read its snapshot (carol) but not applied it: bob joins and carol leaves meanwhile.
    await b.subscribe(bob, 'room:1');
    b.removeSubscriber(carol);
    runTimers();
    gate.resolve();
    const answer = await subscribing;
    expect((answer.pres as PresenceUser[]).map((u) => u.n).sort()).toEqual(['alice', 'bob']);
  });
});
