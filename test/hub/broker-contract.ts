import { afterEach, describe, expect, it } from 'vitest';
import type { Broker, BrokerMessage } from '../../src/server/broker';
import { until } from '../support/wait';

export interface BrokerFactoryOptions {
  historyMaxCount?: number;
}

/** Where implementations legitimately differ; each test that depends on it says so in its name. Default: MemoryBroker's. */
export interface BrokerTraits {
  /**
   * An offset more than one past the newest. 'accept': stored and fanned out at once, and the
   * skipped offsets count as late when they come (one process: MemoryBroker). 'hold': kept back
   * until the skipped offsets arrive, then all fanned out in order (nodes that publish out of
   * commit order: RedisBroker, which gives up after a timeout, tested with it).
   */
  gaps: 'accept' | 'hold';
}

let markers = 0;

/**
 * Resolves once everything `b` published on `channel` before the call has reached the listeners:
 * one channel's fanout is ordered, so a marker published now arrives after all of it.
 */
async function settled(b: Broker, channel: string): Promise<void> {
  const marker = `settled-${(markers += 1)}`;
  let seen = false;
  const stop = b.onMessage((m) => {
    if (m.event === marker) seen = true;
  });
  try {
    await b.publish({ channel, event: marker, data: null });
    await until(() => seen, `the ${marker} marker on ${channel}`);
  } finally {
    stop();
  }
}

/** The offsets `b` fans out, in order (markers left out). */
function offsetsHeard(b: Broker): (number | undefined)[] {
  const heard: (number | undefined)[] = [];
  b.onMessage((m) => {
    if (!m.event.startsWith('settled-')) heard.push(m.offset);
  });
  return heard;
}

/**
 * The behaviour every Broker implementation owes the hub. Run it once per implementation:
 * `describeBrokerContract('RedisBroker', (options) => RedisBroker.connect({ ... }), { gaps: 'hold' })`.
 * Fanout may be asynchronous (through another server): tests watch the channel first and wait
 * for deliveries.
 */
export function describeBrokerContract(
  name: string,
  make: (options: BrokerFactoryOptions) => Broker | Promise<Broker>,
  traits: BrokerTraits = { gaps: 'accept' },
): void {
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

    it('fans every publication of a watched channel out to every listener, and a removed listener hears nothing more', async () => {
      const b = await broker();
      await Promise.all([b.watch('post:1'), b.watch('feed')]);
      const first: BrokerMessage[] = [];
      const second: BrokerMessage[] = [];
      b.onMessage((m) => first.push(m));
      const stop = b.onMessage((m) => second.push(m));
      await b.publish({ channel: 'post:1', offset: 1, event: 'created', data: { a: 1 } });
      await until(() => second.length === 1, 'the first publication');
      stop();
      await b.publish({ channel: 'feed', event: 'typing', data: null, from: 'conn-1' });
      await until(() => first.length === 2, 'the second publication');
      expect(first.map((m) => [m.channel, m.offset, m.event])).toEqual([['post:1', 1, 'created'], ['feed', undefined, 'typing']]);
      expect(first[0]!.data).toEqual({ a: 1 });
      expect(first[1]!.from).toBe('conn-1');
      expect(second).toHaveLength(1);
    });

    it('publishAll: a commit\'s publications on several channels arrive in order and in one turn (one socket write each)', async () => {
      const b = await broker();
      await Promise.all([b.watch('conversation:1'), b.watch('user:1'), b.watch('user:2')]);
      // A turn counter: messages heard before the next setImmediate share a turn.
      let turn = 0;
      let ticking = true;
      const tick = () => {
        turn += 1;
        if (ticking) setImmediate(tick);
      };
      setImmediate(tick);
      for (let round = 1; round <= 20; round += 1) {
        const heard: Array<{ channel: string; offset: number | undefined; turn: number }> = [];
        const stop = b.onMessage((m) => heard.push({ channel: m.channel, offset: m.offset, turn }));
        await b.publishAll([
          { channel: 'conversation:1', offset: round, event: 'message.created', data: { round } },
          { channel: 'user:1', offset: round, event: 'message.created', data: { round } },
          { channel: 'user:2', offset: round, event: 'message.created', data: { round } },
        ]);
        await until(() => heard.length === 3, `round ${round}`);
        stop();
        expect(heard.map((h) => [h.channel, h.offset])).toEqual([['conversation:1', round], ['user:1', round], ['user:2', round]]);
        expect(new Set(heard.map((h) => h.turn)).size, `round ${round}: turns`).toBe(1);
      }
      ticking = false;
      // A duplicate in a batch is dropped like one published alone; the rest still go out.
      const heard = offsetsHeard(b);
      await b.publishAll([
        { channel: 'user:1', offset: 20, event: 'message.created', data: null },
        { channel: 'user:1', offset: 21, event: 'message.created', data: null },
      ]);
      await until(() => heard.length === 1, 'the new offset');
      await settled(b, 'user:1');
      expect(heard).toEqual([21]);
    });

    it('calls a listener registered twice twice, and each remover removes one registration', async () => {
      const b = await broker();
      await b.watch('feed');
      const heard: string[] = [];
      const listener = (m: BrokerMessage) => {
        if (!m.event.startsWith('settled-')) heard.push(m.event);
      };
      const stopOne = b.onMessage(listener);
      b.onMessage(listener);
      await b.publish({ channel: 'feed', event: 'x', data: 1 });
      await until(() => heard.length === 2, 'x twice');
      stopOne();
      await b.publish({ channel: 'feed', event: 'y', data: 1 });
      await until(() => heard.length === 3, 'y once');
      await settled(b, 'feed');
      expect(heard).toEqual(['x', 'x', 'y']);
    });

    it('watches idempotently (concurrent calls too) and keeps delivering after an unwatch and a new watch', async () => {
      const b = await broker();
      await Promise.all([b.watch('feed'), b.watch('feed')]);
      await b.watch('feed');
      b.unwatch('feed');
      await b.watch('feed');
      const heard = offsetsHeard(b);
      await b.publish({ channel: 'feed', offset: 1, event: 'e', data: null });
      await settled(b, 'feed');
      expect(heard).toEqual([1]);
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

    it('ignores duplicate offsets (neither stored nor fanned out)', async () => {
      const b = await broker();
      await b.watch('post:1');
      const heard = offsetsHeard(b);
      await publishRange(b, 'post:1', 1, 3);
      await b.publish({ channel: 'post:1', offset: 3, event: 'dup', data: null });
      await b.publish({ channel: 'post:1', offset: 1, event: 'dup', data: null });
      await settled(b, 'post:1');
      expect(heard).toEqual([1, 2, 3]);
      const { epoch, offset } = await b.position('post:1');
      expect(offset).toBe(3);
      const result = await b.history('post:1', { epoch, offset: 0 }, 100);
      expect(result.ok && result.publications.map((m) => m.event)).toEqual(['e', 'e', 'e']);
    });

    it.runIf(traits.gaps === 'accept')('gaps accepted: an offset past a gap is fanned out at once, the skipped ones are late and ignored', async () => {
      const b = await broker();
      await b.watch('post:1');
      const heard = offsetsHeard(b);
      await publishRange(b, 'post:1', 1, 3);
      await b.publish({ channel: 'post:1', offset: 7, event: 'gap', data: null });
      await b.publish({ channel: 'post:1', offset: 5, event: 'late', data: null });
      await settled(b, 'post:1');
      expect(heard).toEqual([1, 2, 3, 7]);
      const { epoch, offset } = await b.position('post:1');
      expect(offset).toBe(7);
      const result = await b.history('post:1', { epoch, offset: 2 }, 100);
      expect(result.ok && result.publications.map((m) => [m.offset, m.event])).toEqual([[3, 'e'], [7, 'gap']]);
    });

    it.runIf(traits.gaps === 'hold')('gaps held: an offset past a gap waits for the skipped ones, then all are fanned out and stored in order', async () => {
      const b = await broker();
      await b.watch('post:1');
      const heard = offsetsHeard(b);
      await publishRange(b, 'post:1', 1, 3);
      await b.publish({ channel: 'post:1', offset: 6, event: 'early', data: null });
      await b.publish({ channel: 'post:1', offset: 6, event: 'dup', data: null });
      await settled(b, 'post:1');
      expect(heard).toEqual([1, 2, 3]);
      expect((await b.position('post:1')).offset).toBe(3);
      await b.publish({ channel: 'post:1', offset: 5, event: 'late', data: null });
      await b.publish({ channel: 'post:1', offset: 4, event: 'late', data: null });
      await settled(b, 'post:1');
      expect(heard).toEqual([1, 2, 3, 4, 5, 6]);
      const { epoch, offset } = await b.position('post:1');
      expect(offset).toBe(6);
      const result = await b.history('post:1', { epoch, offset: 2 }, 100);
      expect(result.ok && result.publications.map((m) => [m.offset, m.event])).toEqual([[3, 'e'], [4, 'late'], [5, 'late'], [6, 'early']]);
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
