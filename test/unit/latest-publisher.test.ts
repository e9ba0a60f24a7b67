import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { LatestPublisher } from '../../src/server/assembly/latest-publisher';
import type { ChannelLog } from '../../src/server/store/channel-log';

/** Coalesced publications (ctx.publishLatest) with fake timers and a recorded "transaction". */

interface Written {
  channel: string;
  event: string;
  data: unknown;
}

function harness(options: { failTimes?: number; writeMs?: number } = {}) {
  const written: Written[] = [];
  const errors: unknown[] = [];
  let failuresLeft = options.failTimes ?? 0;
  const publisher = new LatestPublisher<null>({
    // The state is read at the start of the transaction; the commit takes writeMs; only then is it written.
    transaction: async <R>(work: (trx: null, log: ChannelLog) => Promise<R>) => {
      const appended: Written[] = [];
      const log = { append: async (channel: string, event: string, data: unknown) => void appended.push({ channel, event, data }) } as unknown as ChannelLog;
      const result = await work(null, log);
      if (options.writeMs !== undefined) await new Promise((resolve) => setTimeout(resolve, options.writeMs));
      if (failuresLeft > 0) {
        failuresLeft -= 1;
        throw new Error('store down');
      }
      written.push(...appended);
      return result;
    },
    setTimer: (callback, ms) => setTimeout(callback, ms),
    clearTimer: (handle) => clearTimeout(handle as NodeJS.Timeout),
    onError: (error) => void errors.push(error),
  });
  return { publisher, written, errors };
}

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('LatestPublisher', () => {
  it('turns many requests within one interval into one publication of the latest state', async () => {
    const { publisher, written } = harness();
    let state = 0;
    for (let i = 0; i < 500; i += 1) {
      state += 1;
      const snapshot = state;
      publisher.request('poll:1', 'poll.tally', async () => ({ votes: snapshot }), 100);
    }
    await vi.advanceTimersByTimeAsync(100);
    expect(written).toEqual([{ channel: 'poll:1', event: 'poll.tally', data: { votes: 500 } }]);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(written).toHaveLength(1);
  });

  it('keeps channels and events apart', async () => {
    const { publisher, written } = harness();
    publisher.request('poll:1', 'poll.tally', async () => 1, 100);
    publisher.request('poll:2', 'poll.tally', async () => 2, 100);
    publisher.request('poll:1', 'poll.other', async () => 3, 100);
    await vi.advanceTimersByTimeAsync(100);
    expect(written.map((w) => `${w.channel} ${w.event} ${String(w.data)}`).sort()).toEqual(['poll:1 poll.other 3', 'poll:1 poll.tally 1', 'poll:2 poll.tally 2']);
  });

  it('a change while a publication is being written is published one interval later', async () => {
    const { publisher, written } = harness({ writeMs: 50 });
    let state = 'first';
    publisher.request('c', 'e', async () => state, 100);
    await vi.advanceTimersByTimeAsync(120);
    state = 'second';
    publisher.request('c', 'e', async () => state, 100);
    await vi.advanceTimersByTimeAsync(30);
    expect(written.map((w) => w.data)).toEqual(['first']);
    await vi.advanceTimersByTimeAsync(200);
    expect(written.map((w) => w.data)).toEqual(['first', 'second']);
  });

  it('retries a failed publication a few times, then gives up and reports each failure', async () => {
    const { publisher, written, errors } = harness({ failTimes: 5 });
    publisher.request('c', 'e', async () => 'state', 100);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(written).toEqual([]);
    expect(errors).toHaveLength(3);
  });

  it('close() writes what is pending at once, waits for a write under way, and still sends the state asked for meanwhile', async () => {
    const { publisher, written } = harness({ writeMs: 50 });
    let a = 'a1';
    publisher.request('a', 'e', async () => a, 100);
    await vi.advanceTimersByTimeAsync(110);
    a = 'a2';
    publisher.request('a', 'e', async () => a, 100);
    publisher.request('b', 'e', async () => 'b1', 100);
    const closed = publisher.close();
    await vi.advanceTimersByTimeAsync(200);
    await closed;
    expect(written.map((w) => w.data).sort()).toEqual(['a1', 'a2', 'b1']);
    publisher.request('a', 'e', async () => 'after close', 100);
    await vi.advanceTimersByTimeAsync(200);
    expect(written).toHaveLength(3);
  });
});
