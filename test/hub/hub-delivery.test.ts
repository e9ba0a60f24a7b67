import { describe, expect, it } from 'vitest';
import { MemoryBroker } from '../../src/server/broker';
import { Hub, type HubOptions } from '../../src/server/hub';
import { events, settle, SlowBroker, subscriber } from './support';

function setup(options: Partial<HubOptions> = {}) {
  const memory = new MemoryBroker();
  const broker = new SlowBroker(memory);
  const hub = new Hub({ broker, ...options });
  hub.definePolicy('post', { canSubscribe: () => true });
  hub.definePolicy('conversation', {
    canSubscribe: () => true,
    clientEvents: {
      typing: { validate: (d) => typeof d === 'object' && d !== null && typeof (d as { on?: unknown }).on === 'boolean' },
      fussy: { validate: () => { throw new Error('validator bug'); } },
      signed: { validate: () => true, broadcast: (d, user) => ({ ...(d as object), by: user.id }) },
    },
  });
  return { hub, broker, memory };
}

const code = (promise: Promise<unknown>) => promise.then(() => 'resolved', (error: { code?: string }) => error.code);

describe('Hub delivery of committed events', () => {
  it('sends each subscriber of the channel the same serialized frame, in commit order', async () => {
    const { hub } = setup();
    const [ada, bob, other] = [subscriber({ id: 1 }), subscriber({ id: 2 }), subscriber({ id: 3 })];
    await hub.subscribe(ada, 'post:1');
    await hub.subscribe(bob, 'post:1');
    await hub.subscribe(other, 'post:2');
    await hub.publishCommitted([
      { channel: 'post:1', offset: 1, event: 'comment.created', data: { id: 5 } },
      { channel: 'post:1', offset: 2, event: 'comment.deleted', data: { id: 5 } },
    ]);
    const expected = [
      { frame: '{"t":"pub","ch":"post:1","o":1,"ev":"comment.created","d":{"id":5}}', kind: 'durable' },
      { frame: '{"t":"pub","ch":"post:1","o":2,"ev":"comment.deleted","d":{"id":5}}', kind: 'durable' },
    ];
    expect(ada.sent).toEqual(expected);
    expect(bob.sent).toEqual(expected);
    expect(other.sent).toEqual([]);
  });

  it('stops delivering after unsubscribe', async () => {
    const { hub } = setup();
    const ada = subscriber({ id: 1 });
    await hub.subscribe(ada, 'post:1');
    await hub.publishCommitted(events('post:1', 1, 1));
    await hub.unsubscribe(ada, 'post:1');
    await hub.unsubscribe(ada, 'post:1');
    await hub.publishCommitted(events('post:1', 2, 2));
    expect(ada.offsets()).toEqual([1]);
  });

  it('keeps delivering to the others when one send throws, and reports it', async () => {
    const errors: unknown[] = [];
    const { hub } = setup({ onError: (error) => errors.push(error) });
    const broken = subscriber({ id: 1 });
    broken.send = () => {
      throw new Error('socket gone');
    };
    const bob = subscriber({ id: 2 });
    await hub.subscribe(broken, 'post:1');
    await hub.subscribe(bob, 'post:1');
    await hub.publishCommitted(events('post:1', 1, 1));
    expect(bob.offsets()).toEqual([1]);
    expect(errors).toHaveLength(1);
  });

  it('reports data that cannot be serialized and delivers it to nobody', async () => {
    const errors: unknown[] = [];
    const { hub } = setup({ onError: (error) => errors.push(error) });
    const ada = subscriber({ id: 1 });
    await hub.subscribe(ada, 'post:1');
    await hub.publishCommitted([{ channel: 'post:1', offset: 1, event: 'e', data: { big: 1n } }]);
    expect(ada.sent).toEqual([]);
    expect(errors).toHaveLength(1);
  });

  it('publishes the other events when one fails, then reports the failure', async () => {
    const { hub, broker } = setup();
    const ada = subscriber({ id: 1 });
    await hub.subscribe(ada, 'post:1');
    broker.failPublishOn = 'post:9';
    const publishing = hub.publishCommitted([...events('post:9', 1, 1), ...events('post:1', 1, 1)]);
    await expect(publishing).rejects.toThrow('publish to post:9 failed');
    expect(ada.offsets()).toEqual([1]);
  });
});

describe('Hub.publishEphemeral', () => {
  async function room() {
    const s = setup();
    const [ada, bob, carol] = [subscriber({ id: 1 }), subscriber({ id: 2 }), subscriber({ id: 3 })];
    for (const sub of [ada, bob, carol]) await s.hub.subscribe(sub, 'conversation:9');
    return { ...s, ada, bob, carol };
  }

  it('fans a valid client event out to the other subscribers, without offset, as ephemeral', async () => {
    const { hub, ada, bob, carol } = await room();
    await hub.publishEphemeral(ada, 'conversation:9', 'typing', { on: true });
    const frame = { frame: '{"t":"pub","ch":"conversation:9","ev":"typing","d":{"on":true}}', kind: 'ephemeral' };
    expect(bob.sent).toEqual([frame]);
    expect(carol.sent).toEqual([frame]);
    expect(ada.sent).toEqual([]);
  });

  it('never stores it: the position does not move and a recovery replays nothing', async () => {
    const { hub, memory, ada } = await room();
    await hub.publishEphemeral(ada, 'conversation:9', 'typing', { on: true });
    expect(await memory.history('conversation:9', { epoch: memory.epoch, offset: 0 }, 10)).toEqual({ ok: true, publications: [], epoch: memory.epoch, offset: 0 });
  });

  it('lets the policy stamp the sender so clients cannot spoof it', async () => {
    const { hub, ada, bob } = await room();
    await hub.publishEphemeral(ada, 'conversation:9', 'signed', { by: 999 });
    expect(bob.frames()).toEqual([{ t: 'pub', ch: 'conversation:9', ev: 'signed', d: { by: 1 } }]);
  });

  it('refuses a connection that is not subscribed (or not yet live)', async () => {
    const { hub, broker } = await room();
    const dave = subscriber({ id: 4 });
    expect(await code(hub.publishEphemeral(dave, 'conversation:9', 'typing', { on: true }))).toBe('not_subscribed');
    broker.hold();
    void hub.subscribe(dave, 'conversation:9').catch(() => undefined);
    await settle();
    expect(await code(hub.publishEphemeral(dave, 'conversation:9', 'typing', { on: true }))).toBe('not_subscribed');
  });

  it('refuses events the policy does not list, and channels whose clients may not publish', async () => {
    const { hub, ada } = await room();
    expect(await code(hub.publishEphemeral(ada, 'conversation:9', 'message', {}))).toBe('publish_forbidden');
    expect(await code(hub.publishEphemeral(ada, 'conversation:9', 'toString', {}))).toBe('publish_forbidden');
    await hub.subscribe(ada, 'post:1');
    expect(await code(hub.publishEphemeral(ada, 'post:1', 'typing', { on: true }))).toBe('publish_forbidden');
  });

  it('refuses data the validator rejects or throws on, and sends nothing', async () => {
    const { hub, ada, bob } = await room();
    expect(await code(hub.publishEphemeral(ada, 'conversation:9', 'typing', { on: 'yes' }))).toBe('invalid_payload');
    expect(await code(hub.publishEphemeral(ada, 'conversation:9', 'fussy', {}))).toBe('invalid_payload');
    expect(bob.sent).toEqual([]);
  });

  it('is not held for a subscriber still recovering', async () => {
    const { hub, broker, ada } = await room();
    const dave = subscriber({ id: 4 });
    const gate = broker.hold();
    const answering = hub.subscribe(dave, 'conversation:9', { e: 'x', o: 0 });
    await settle();
    await hub.publishEphemeral(ada, 'conversation:9', 'typing', { on: true });
    gate.resolve();
    expect((await answering).pubs).toBeUndefined();
    expect(dave.sent).toEqual([]);
  });
});
