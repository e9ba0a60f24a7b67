import { describe, expect, it } from 'vitest';
import { MemoryBroker, type Broker, type BrokerMessage } from '../../src/server/broker';
import { settleAll } from '../../src/server/broker/broker';
import { Hub } from '../../src/server/hub';
import { events, settle, subscriber } from './support';

/** A broker whose publish of one chosen offset waits until released. */
class GatedPublish implements Broker {
  release: () => void = () => {};
  readonly #gate = new Promise<void>((resolve) => (this.release = resolve));
  constructor(readonly inner: Broker, readonly slowOffset: number) {}
  async publish(message: BrokerMessage): Promise<void> {
    if (message.offset === this.slowOffset) await this.#gate;
    return this.inner.publish(message);
  }
  publishAll(messages: readonly BrokerMessage[]) {
    return settleAll(messages.map((message) => this.publish(message)));
  }
  onMessage(listener: (message: BrokerMessage) => void) {
    return this.inner.onMessage(listener);
  }
  history(...args: Parameters<Broker['history']>) {
    return this.inner.history(...args);
  }
  position(channel: string) {
    return this.inner.position(channel);
  }
  watch(channel: string) {
    return this.inner.watch(channel);
  }
  unwatch(channel: string) {
    this.inner.unwatch(channel);
  }
  onGap(listener: (channel: string | undefined) => void) {
    return this.inner.onGap(listener);
  }
  close() {
    return this.inner.close();
  }
}

describe('committed events', () => {
  it('reach the broker in commit order: a later commit never overtakes an earlier one on the same channel', async () => {
    const broker = new GatedPublish(new MemoryBroker(), 2);
    const hub = new Hub({ broker });
    hub.definePolicy('user', { canSubscribe: () => true });
    const alice = subscriber({ id: 1 });
    await hub.subscribe(alice, 'user:1');
    const first = hub.publishCommitted(events('user:1', 1, 2)); // offset 2 is slow to publish
    const second = hub.publishCommitted(events('user:1', 3, 3));
    await settle();
    expect(alice.offsets()).toEqual([1]); // 3 waits for 2 instead of overtaking it
    broker.release();
    await Promise.all([first, second]);
    expect(alice.offsets()).toEqual([1, 2, 3]);
    const replay = await broker.history('user:1', { epoch: (await broker.position('user:1')).epoch, offset: 0 }, 10);
    expect(replay.ok && replay.publications.map((p) => p.offset)).toEqual([1, 2, 3]);
    await hub.close();
    await broker.close();
  });
});
