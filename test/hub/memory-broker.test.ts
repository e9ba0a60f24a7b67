import { describe, expect, it, vi } from 'vitest';
import { MemoryBroker, type MemoryBrokerOptions } from '../../src/server/broker';
import { describeBrokerContract } from './broker-contract';
import { deferred } from './support';

describeBrokerContract('MemoryBroker', (options) => new MemoryBroker(options));

function brokerAt(options: MemoryBrokerOptions = {}) {
  let now = 1_000_000;
  const broker = new MemoryBroker({ clock: () => now, ...options });
  return { broker, advance: (ms: number) => (now += ms) };
}

async function publishRange(broker: MemoryBroker, channel: string, from: number, to: number): Promise<void> {
  for (let offset = from; offset <= to; offset += 1) await broker.publish({ channel, offset, event: 'e', data: offset });
}

describe('MemoryBroker', () => {
  it('has a new random epoch per instance (its history does not survive a restart)', async () => {
    const a = new MemoryBroker();
    const b = new MemoryBroker();
    expect(a.epoch).not.toBe(b.epoch);
    expect((await a.position('feed')).epoch).toBe(a.epoch);
  });

  it('keeps 1000 publications per channel by default', async () => {
    const { broker } = brokerAt();
    await publishRange(broker, 'feed', 1, 1001);
    const epoch = broker.epoch;
    expect(await broker.history('feed', { epoch, offset: 0 }, 5000)).toMatchObject({ ok: false, why: 'history_trimmed' });
    const kept = await broker.history('feed', { epoch, offset: 1 }, 5000);
    expect(kept.ok && kept.publications.length).toBe(1000);
  });

  it('trims by age on append and lazily on read (default 10 minutes)', async () => {
    const { broker, advance } = brokerAt();
    await publishRange(broker, 'feed', 1, 2);
    advance(5 * 60_000);
    await publishRange(broker, 'feed', 3, 3);
    advance(5 * 60_000);
    const epoch = broker.epoch;
    // Exactly 10 minutes old is still kept.
    expect((await broker.history('feed', { epoch, offset: 0 }, 100)).ok).toBe(true);
    advance(1);
    expect(await broker.history('feed', { epoch, offset: 0 }, 100)).toMatchObject({ ok: false, why: 'history_trimmed', offset: 3 });
    const rest = await broker.history('feed', { epoch, offset: 2 }, 100);
    expect(rest.ok && rest.publications.map((m) => m.offset)).toEqual([3]);
    advance(10 * 60_000);
    expect(await broker.history('feed', { epoch, offset: 2 }, 100)).toMatchObject({ ok: false, why: 'history_trimmed' });
    // The position survives the history.
    expect(await broker.history('feed', { epoch, offset: 3 }, 100)).toEqual({ ok: true, publications: [], epoch, offset: 3 });
  });

  it('honours custom count and age bounds', async () => {
    const { broker, advance } = brokerAt({ historyMaxCount: 2, historyMaxAgeMs: 1000 });
    await publishRange(broker, 'feed', 1, 3);
    const epoch = broker.epoch;
    expect((await broker.history('feed', { epoch, offset: 1 }, 10)).ok).toBe(true);
    expect((await broker.history('feed', { epoch, offset: 0 }, 10)).ok).toBe(false);
    advance(1001);
    expect((await broker.history('feed', { epoch, offset: 1 }, 10)).ok).toBe(false);
  });

  describe('positionSource', () => {
    it('seeds an empty history with the database position, from which recovery then works', async () => {
      const source = vi.fn(async (channel: string) => (channel === 'post:1' ? 41 : 0));
      const { broker } = brokerAt({ positionSource: source });
      const position = await broker.position('post:1');
      expect(position).toEqual({ epoch: broker.epoch, offset: 41 });
      await publishRange(broker, 'post:1', 42, 44);
      const replay = await broker.history('post:1', position, 100);
      expect(replay.ok && replay.publications.map((m) => m.offset)).toEqual([42, 43, 44]);
      expect(await broker.history('post:1', { epoch: broker.epoch, offset: 40 }, 100)).toMatchObject({ ok: false, why: 'history_trimmed' });
      expect(await broker.history('post:1', { epoch: broker.epoch, offset: 45 }, 100)).toMatchObject({ ok: false, why: 'never_positioned' });
      expect(source).toHaveBeenCalledTimes(1);
    });

    it('answers a client from before the restart with epoch_changed, and its new position from the database', async () => {
      const { broker } = brokerAt({ positionSource: async () => 12 });
      expect(await broker.history('post:1', { epoch: 'before-restart', offset: 12 }, 100)).toEqual({ ok: false, why: 'epoch_changed', epoch: broker.epoch, offset: 12 });
    });

    it('reads the database once for concurrent first uses, and again after a failure', async () => {
      const read = deferred<number>();
      const source = vi.fn().mockReturnValueOnce(Promise.reject(new Error('db down'))).mockReturnValue(read.promise);
      const { broker } = brokerAt({ positionSource: source });
      await expect(broker.position('feed')).rejects.toThrow('db down');
      const both = Promise.all([broker.position('feed'), broker.history('feed', { epoch: broker.epoch, offset: 5 }, 10)]);
      read.resolve(5);
      const [position, history] = await both;
      expect(position.offset).toBe(5);
      expect(history).toEqual({ ok: true, publications: [], epoch: broker.epoch, offset: 5 });
      expect(source).toHaveBeenCalledTimes(2);
    });

    it('still fans out a commit that the seed already counted', async () => {
      const { broker } = brokerAt({ positionSource: async () => 8 });
      const heard: (number | undefined)[] = [];
      broker.onMessage((m) => heard.push(m.offset));
      await broker.position('feed');
      await broker.publish({ channel: 'feed', offset: 8, event: 'e', data: null });
      await broker.publish({ channel: 'feed', offset: 8, event: 'e', data: null });
      await broker.publish({ channel: 'feed', offset: 9, event: 'e', data: null });
      expect(heard).toEqual([8, 9]);
      const replay = await broker.history('feed', { epoch: broker.epoch, offset: 8 }, 10);
      expect(replay.ok && replay.publications.map((m) => m.offset)).toEqual([9]);
    });

    it('moves past publications it saw when the database is ahead of them', async () => {
      const seed = deferred<number>();
      const { broker } = brokerAt({ positionSource: () => seed.promise });
      await publishRange(broker, 'feed', 3, 4);
      const position = broker.position('feed');
      seed.resolve(6);
      expect((await position).offset).toBe(6);
      expect(await broker.history('feed', { epoch: broker.epoch, offset: 4 }, 10)).toMatchObject({ ok: false, why: 'history_trimmed' });
    });
  });

  it('reports a throwing listener without keeping the message from the others', async () => {
    const errors: unknown[] = [];
    const { broker } = brokerAt({ onListenerError: (error) => errors.push(error) });
    const heard: string[] = [];
    broker.onMessage(() => {
      throw new Error('boom');
    });
    broker.onMessage((m) => heard.push(m.event));
    await broker.publish({ channel: 'feed', event: 'x', data: null });
    expect(heard).toEqual(['x']);
    expect(errors).toHaveLength(1);
  });

  it('refuses to work once closed', async () => {
    const { broker } = brokerAt();
    await broker.close();
    await expect(broker.publish({ channel: 'feed', event: 'x', data: null })).rejects.toThrow('closed');
    await expect(broker.position('feed')).rejects.toThrow('closed');
  });
});
