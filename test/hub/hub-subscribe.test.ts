import { describe, expect, it, vi } from 'vitest';
import { MemoryBroker } from '../../src/server/broker';
import { Hub, type HubOptions } from '../../src/server/hub';
import { deferred, events, settle, SlowBroker, subscriber } from './support';

function setup(options: Partial<HubOptions> & { historyMaxCount?: number } = {}) {
  const memory = new MemoryBroker({ historyMaxCount: options.historyMaxCount ?? 1000 });
  const broker = new SlowBroker(memory);
  const hub = new Hub({ broker, ...options });
  hub.definePolicy('post', { canSubscribe: () => true, clientEvents: { typing: { validate: () => true } } });
  hub.definePolicy('feed', { canSubscribe: () => true });
  return { hub, broker, epoch: memory.epoch };
}

const code = (promise: Promise<unknown>) => promise.then(() => 'resolved', (error: { code?: string }) => error.code);

describe('Hub.subscribe: access', () => {
  it('asks the channel policy with the user and the parameter after the prefix', async () => {
    const { hub } = setup();
    const canSubscribe = vi.fn(async () => true);
    hub.definePolicy('user', { canSubscribe });
    const ada = subscriber({ id: 7 });
    await hub.subscribe(ada, 'user:7');
    expect(canSubscribe).toHaveBeenCalledWith({ id: 7, name: 'user7' }, 'user:7', '7');
    const feedPolicy = vi.fn(() => true);
    hub.definePolicy('news', { canSubscribe: feedPolicy });
    await hub.subscribe(ada, 'news');
    expect(feedPolicy).toHaveBeenCalledWith(ada.user, 'news', undefined);
  });

  it('refuses with forbidden when the policy says no, and keeps nothing', async () => {
    const { hub } = setup();
    hub.definePolicy('user', { canSubscribe: async (user, _channel, param) => String(user.id) === param });
    expect(await code(hub.subscribe(subscriber({ id: 1 }), 'user:2'))).toBe('forbidden');
    expect(hub.stats()).toEqual({ channels: 0, subscriptions: 0, subscribers: 0, presenceEntries: 0, pendingTimers: 0 });
  });

  it('answers unknown_channel when no policy matches the prefix', async () => {
    const { hub } = setup();
    expect(await code(hub.subscribe(subscriber({ id: 1 }), 'nope:1'))).toBe('unknown_channel');
    expect(hub.stats().subscribers).toBe(0);
  });

  it('passes on what the policy throws, and keeps nothing', async () => {
    const { hub } = setup();
    hub.definePolicy('user', { canSubscribe: () => { throw new Error('acl store down'); } });
    await expect(hub.subscribe(subscriber({ id: 1 }), 'user:1')).rejects.toThrow('acl store down');
    expect(hub.stats().subscriptions).toBe(0);
  });

  it('refuses a second subscription to the same channel, also while the first is in flight', async () => {
    const { hub, broker } = setup();
    const ada = subscriber({ id: 1 });
    const gate = broker.hold();
    const first = hub.subscribe(ada, 'post:1');
    expect(await code(hub.subscribe(ada, 'post:1'))).toBe('already_subscribed');
    gate.resolve();
    await first;
    expect(await code(hub.subscribe(ada, 'post:1'))).toBe('already_subscribed');
  });

  it('caps subscriptions per connection, counting those in flight', async () => {
    const { hub, broker } = setup({ maxSubscriptionsPerSubscriber: 2 });
    const ada = subscriber({ id: 1 });
    await hub.subscribe(ada, 'post:1');
    const gate = broker.hold();
    const second = hub.subscribe(ada, 'post:2');
    expect(await code(hub.subscribe(ada, 'post:3'))).toBe('too_many_subscriptions');
    gate.resolve();
    await second;
    await hub.unsubscribe(ada, 'post:1');
    await expect(hub.subscribe(ada, 'post:3')).resolves.toMatchObject({ o: 0 });
    // The cap is per connection.
    await expect(hub.subscribe(subscriber({ id: 1 }), 'post:1')).resolves.toBeDefined();
  });
});

describe('Hub.subscribe: position and recovery', () => {
  it('answers the epoch and current offset without since', async () => {
    const { hub, epoch } = setup();
    await hub.publishCommitted(events('post:1', 1, 3));
    expect(await hub.subscribe(subscriber({ id: 1 }), 'post:1')).toEqual({ e: epoch, o: 3 });
  });

  it('replays exactly what was missed, in order', async () => {
    const { hub, epoch } = setup();
    await hub.publishCommitted(events('post:1', 1, 10));
    const ada = subscriber({ id: 1 });
    const answer = await hub.subscribe(ada, 'post:1', { e: epoch, o: 4 });
    expect(answer).toMatchObject({ e: epoch, o: 10, rec: true });
    expect(answer.pubs).toEqual([5, 6, 7, 8, 9, 10].map((o) => ({ t: 'pub', ch: 'post:1', o, ev: 'comment.created', d: { n: o } })));
    expect(ada.sent).toEqual([]);
  });

  it('recovers with nothing to replay from exactly the current offset', async () => {
    const { hub, epoch } = setup();
    await hub.publishCommitted(events('post:1', 1, 3));
    expect(await hub.subscribe(subscriber({ id: 1 }), 'post:1', { e: epoch, o: 3 })).toEqual({ e: epoch, o: 3, rec: true, pubs: [] });
  });

  it.each([
    ['epoch_changed', { e: 'another-epoch', o: 2 }],
    ['never_positioned', { e: 'EPOCH', o: 11 }],
    ['history_trimmed', { e: 'EPOCH', o: 1 }],
    ['too_many_missed', { e: 'EPOCH', o: 4 }],
  ] as const)('answers rec false with why %s', async (why, since) => {
    const { hub, epoch } = setup({ historyMaxCount: 8, maxRecoveryCount: 5 });
    await hub.publishCommitted(events('post:1', 1, 10));
    const answer = await hub.subscribe(subscriber({ id: 1 }), 'post:1', { e: since.e === 'EPOCH' ? epoch : since.e, o: since.o });
    expect(answer).toEqual({ e: epoch, o: 10, rec: false, why });
  });

  it('goes live after answering: later publications arrive as frames', async () => {
    const { hub, epoch } = setup();
    const ada = subscriber({ id: 1 });
    await hub.subscribe(ada, 'post:1', { e: epoch, o: 0 });
    await hub.publishCommitted(events('post:1', 1, 2));
    expect(ada.offsets()).toEqual([1, 2]);
    expect(ada.sent.every((s) => s.kind === 'durable')).toBe(true);
  });
});

describe('Hub.subscribe: racing live publications', () => {
  it.each([
    ['the history read before they were published', true],
    ['the history read after they were published', false],
  ])('loses and duplicates nothing with %s', async (_label, readFirst) => {
    const { hub, broker, epoch } = setup();
    await hub.publishCommitted(events('post:1', 1, 10));
    const typist = subscriber({ id: 2 });
    await hub.subscribe(typist, 'post:1');
    broker.readFirst = readFirst;
    const gate = broker.hold();
    const ada = subscriber({ id: 1 });
    const answering = hub.subscribe(ada, 'post:1', { e: epoch, o: 4 });
    await settle();
    await hub.publishCommitted(events('post:1', 11, 12));
    await hub.publishEphemeral(typist, 'post:1', 'typing', null);
    await hub.publishCommitted(events('post:1', 13, 13));
    expect(ada.sent).toEqual([]);
    gate.resolve();
    const answer = await answering;
    await hub.publishCommitted(events('post:1', 14, 15));
    const replayed = answer.pubs?.map((p) => p.o) ?? [];
    expect([...replayed, ...ada.offsets()]).toEqual([5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]);
    expect(answer.o).toBe(13);
  });

  it('hands over publications that arrive while the position is fetched (no since)', async () => {
    const { hub, broker, epoch } = setup();
    await hub.publishCommitted(events('post:1', 1, 2));
    const gate = broker.hold();
    const ada = subscriber({ id: 1 });
    const answering = hub.subscribe(ada, 'post:1');
    await settle();
    await hub.publishCommitted(events('post:1', 3, 3));
    gate.resolve();
    const answer = await answering;
    expect(answer).toEqual({ e: epoch, o: 3, pubs: [{ t: 'pub', ch: 'post:1', o: 3, ev: 'comment.created', d: { n: 3 } }] });
    expect(ada.sent).toEqual([]);
  });

  it('calls onAnswer before any live frame can be sent', async () => {
    const { hub } = setup();
    const log: string[] = [];
    const ada = subscriber({ id: 1 }, log);
    await hub.subscribe(ada, 'post:1', undefined, {
      onAnswer: (answer) => {
        log.push(`ack o=${answer.o}`);
        void hub.publishCommitted(events('post:1', 1, 1));
      },
    });
    expect(log).toEqual(['ack o=0', '{"t":"pub","ch":"post:1","o":1,"ev":"comment.created","d":{"n":1}}']);
  });

  it.each([
    ['unsubscribed', (hub: Hub, sub: ReturnType<typeof subscriber>) => hub.unsubscribe(sub, 'post:1')],
    ['disconnected', (hub: Hub, sub: ReturnType<typeof subscriber>) => hub.removeSubscriber(sub)],
  ])('drops the answer of a subscription %s while the history was in flight', async (_label, end) => {
    const { hub, broker, epoch } = setup();
    const gate = broker.hold();
    const ada = subscriber({ id: 1 });
    const answering = hub.subscribe(ada, 'post:1', { e: epoch, o: 0 });
    await settle();
    await end(hub, ada);
    gate.resolve();
    expect(await code(answering)).toBe('not_subscribed');
    await hub.publishCommitted(events('post:1', 1, 1));
    expect(ada.sent).toEqual([]);
    expect(hub.stats()).toEqual({ channels: 0, subscriptions: 0, subscribers: 0, presenceEntries: 0, pendingTimers: 0 });
  });

  it('drops the answer of a subscription ended while the policy was deciding, even if a new one started', async () => {
    const { hub } = setup();
    const decision = deferred<boolean>();
    hub.definePolicy('slow', { canSubscribe: () => decision.promise });
    const ada = subscriber({ id: 1 });
    const first = hub.subscribe(ada, 'slow');
    await hub.unsubscribe(ada, 'slow');
    hub.definePolicy('fast', { canSubscribe: () => true });
    decision.resolve(true);
    expect(await code(first)).toBe('not_subscribed');
    expect(hub.stats().subscriptions).toBe(0);
  });

  it('cleans up and passes on a broker failure', async () => {
    const { hub, broker } = setup();
    broker.history = async () => {
      throw new Error('broker down');
    };
    // The client learns `unavailable` (retry later); the broker's own error is the cause, for the log.
    await expect(hub.subscribe(subscriber({ id: 1 }), 'post:1', { e: 'x', o: 0 })).rejects.toMatchObject({ code: 'unavailable', cause: expect.objectContaining({ message: 'broker down' }) });
    expect(hub.stats()).toEqual({ channels: 0, subscriptions: 0, subscribers: 0, presenceEntries: 0, pendingTimers: 0 });
  });
});
