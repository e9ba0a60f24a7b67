import { afterEach, describe, expect, it } from 'vitest';
import type { Broker, BrokerMessage } from '../../src/server/broker';

export interface BrokerFactoryOptions {
  historyMaxCount?: number;
}

/**
 * The behaviour every Broker implementation owes the hub. Run it once per implementation:
 * `describeBrokerContract('MemoryBroker', (options) => new MemoryBroker(options))`.
 */
export function describeBrokerContract(name: string, make: (options: BrokerFactoryOptions) => Broker | Promise<Broker>): void {
  describe(`${name} (Broker contract)`, () => {
    const open: Broker[] = [];
    const broker = async (options: BrokerFactoryOptions = {}) => {
      const made = await make(options);
      open.push(made);
      return made;
    };
    afterEach(async () => {
      await Promise.all(open.splice(0).map((b) => b.close()));
    });

    async function publishRange(b: Broker, channel: string, from: number, to: number): Promise<void> {
      for (let offset = from; offset <= to; offset += 1) await b.publish({ channel, offset, event: 'e', data: { offset } });
    }

    it('fans every publication out to every listener, and a removed listener hears nothing more', async () => {
      const b = await broker();
      const first: BrokerMessage[] = [];
      const second: BrokerMessage[] = [];
      b.onMessage((m) => first.push(m));
      const stop = b.onMessage((m) => second.push(m));
      await b.publish({ channel: 'post:1', offset: 1, event: 'created', data: { a: 1 } });
      stop();
      await b.publish({ channel: 'feed', event: 'typing', data: null });
      expect(first.map((m) => [m.channel, m.offset, m.event])).toEqual([['post:1', 1, 'created'], ['feed', undefined, 'typing']]);
      expect(second).toHaveLength(1);
    });

    it('calls a listener registered twice twice, and each remover removes one registration', async () => {
      const b = await broker();
      const heard: string[] = [];
      const listener = (m: BrokerMessage) => heard.push(m.event);
      const stopOne = b.onMessage(listener);
      b.onMessage(listener);
      await b.publish({ channel: 'feed', event: 'x', data: 1 });
      stopOne();
      await b.publish({ channel: 'feed', event: 'y', data: 1 });
      expect(heard).toEqual(['x', 'x', 'y']);
    });

    it('reports offset 0 for a channel nothing was published on', async () => {
      const b = await broker();
      const position = await b.position('post:404');
      expect(position.offset).toBe(0);
      expect(position.epoch.length).toBeGreaterThan(0);
      expect(await b.history('post:404', position, 10)).toEqual({ ok: true, publications: [], ...position });
    });

    it('replays what came after `since` (exclusive), in order, with the newest offset', async () => {
      const b = await broker();
      await publishRange(b, 'post:1', 1, 10);
      const { epoch } = await b.position('post:1');
      const result = await b.history('post:1', { epoch, offset: 4 }, 100);
      expect(result.ok).toBe(true);
      expect(result.offset).toBe(10);
      expect(result.ok && result.publications.map((m) => m.offset)).toEqual([5, 6, 7, 8, 9, 10]);
    });

    it('recovers with nothing to replay from exactly the current offset', async () => {
      const b = await broker();
      await publishRange(b, 'post:1', 1, 3);
      const position = await b.position('post:1');
      expect(await b.history('post:1', position, 100)).toEqual({ ok: true, publications: [], epoch: position.epoch, offset: 3 });
    });

    it('does not store ephemeral messages or move the position for them', async () => {
      const b = await broker();
      await publishRange(b, 'post:1', 1, 2);
      await b.publish({ channel: 'post:1', event: 'typing', data: { u: 1 } });
      const position = await b.position('post:1');
      expect(position.offset).toBe(2);
      const result = await b.history('post:1', { epoch: position.epoch, offset: 0 }, 100);
      expect(result.ok && result.publications.map((m) => m.event)).toEqual(['e', 'e']);
    });

    it('ignores duplicate and late offsets (neither stored nor fanned out) and accepts gaps', async () => {
      const b = await broker();
      const heard: (number | undefined)[] = [];
      b.onMessage((m) => heard.push(m.offset));
      await publishRange(b, 'post:1', 1, 3);
      await b.publish({ channel: 'post:1', offset: 3, event: 'dup', data: null });
      await b.publish({ channel: 'post:1', offset: 7, event: 'gap', data: null });
      await b.publish({ channel: 'post:1', offset: 5, event: 'late', data: null });
      expect(heard).toEqual([1, 2, 3, 7]);
      const { epoch, offset } = await b.position('post:1');
      expect(offset).toBe(7);
      const result = await b.history('post:1', { epoch, offset: 2 }, 100);
      expect(result.ok && result.publications.map((m) => [m.offset, m.event])).toEqual([[3, 'e'], [7, 'gap']]);
    });

    it('keeps channels apart', async () => {
      const b = await broker();
      await publishRange(b, 'post:1', 1, 3);
      await publishRange(b, 'post:2', 1, 1);
      expect((await b.position('post:1')).offset).toBe(3);
      expect((await b.position('post:2')).offset).toBe(1);
    });

    describe('recovery failures', () => {
      it('epoch_changed: since names another epoch', async () => {
        const b = await broker();
        await publishRange(b, 'post:1', 1, 3);
        const { epoch } = await b.position('post:1');
        expect(await b.history('post:1', { epoch: `${epoch}-old`, offset: 2 }, 100)).toEqual({ ok: false, why: 'epoch_changed', epoch, offset: 3 });
      });

      it('never_positioned: since is past the newest offset', async () => {
        const b = await broker();
        await publishRange(b, 'post:1', 1, 3);
        const { epoch } = await b.position('post:1');
        expect(await b.history('post:1', { epoch, offset: 4 }, 100)).toEqual({ ok: false, why: 'never_positioned', epoch, offset: 3 });
      });

      it('too_many_missed: more than `limit` publications after since', async () => {
        const b = await broker();
        await publishRange(b, 'post:1', 1, 10);
        const { epoch } = await b.position('post:1');
        expect(await b.history('post:1', { epoch, offset: 4 }, 5)).toMatchObject({ ok: false, why: 'too_many_missed', offset: 10 });
        expect((await b.history('post:1', { epoch, offset: 4 }, 6)).ok).toBe(true);
      });

      it('history_trimmed: since is older than what the bounded history retains', async () => {
        const b = await broker({ historyMaxCount: 3 });
        await publishRange(b, 'post:1', 1, 10);
        const { epoch } = await b.position('post:1');
        expect(await b.history('post:1', { epoch, offset: 6 }, 100)).toMatchObject({ ok: false, why: 'history_trimmed', offset: 10 });
        const kept = await b.history('post:1', { epoch, offset: 7 }, 100);
        expect(kept.ok && kept.publications.map((m) => m.offset)).toEqual([8, 9, 10]);
      });
    });
  });
}
