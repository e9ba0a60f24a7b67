import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { vi } from 'vitest';
import { MemoryBroker } from '../../src/server/broker';
import { Hub, type HubOptions } from '../../src/server/hub';
import { subscriber, type FakeSubscriber } from './support';

function setup(options: Partial<HubOptions> = {}) {
  const hub = new Hub({ broker: new MemoryBroker(), ...options });
  hub.definePolicy('post', { canSubscribe: () => true, presence: 'users' });
  hub.definePolicy('feed', { canSubscribe: () => true, presence: 'counts' });
  hub.definePolicy('user', { canSubscribe: () => true });
  return hub;
}

const presenceFrames = (sub: FakeSubscriber) => sub.frames().filter((f) => f.t === 'join' || f.t === 'leave');
const ada = { id: 1, name: 'ada' };
const bob = { id: 2, name: 'bob' };

describe('Hub presence', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('answers the snapshot and announces a newcomer to the others only', async () => {
    const hub = setup();
    const a = subscriber(ada);
    const b = subscriber(bob);
    expect((await hub.subscribe(a, 'post:1')).pres).toEqual([{ id: 1, n: 'ada' }]);
    expect((await hub.subscribe(b, 'post:1')).pres).toEqual([{ id: 1, n: 'ada' }, { id: 2, n: 'bob' }]);
    expect(a.sent).toEqual([{ frame: '{"t":"join","ch":"post:1","u":{"id":2,"n":"bob"}}', kind: 'durable' }]);
    expect(b.sent).toEqual([]);
    expect(await hub.presence('post:1')).toEqual([{ id: 1, n: 'ada' }, { id: 2, n: 'bob' }]);
  });

  it('counts a user with several connections once: one join, one leave after the last goes', async () => {
    const hub = setup({ presenceGraceMs: 5000 });
    const watcher = subscriber(bob);
    await hub.subscribe(watcher, 'post:1');
    const tabs = [subscriber(ada), subscriber(ada), subscriber(ada)];
    for (const tab of tabs) await hub.subscribe(tab, 'post:1');
    expect(presenceFrames(watcher)).toEqual([{ t: 'join', ch: 'post:1', u: { id: 1, n: 'ada' } }]);
    expect(hub.stats().presenceEntries).toBe(2);
    await hub.unsubscribe(tabs[0]!, 'post:1');
    hub.removeSubscriber(tabs[1]!);
    vi.advanceTimersByTime(60_000);
    expect(presenceFrames(watcher)).toHaveLength(1);
    hub.removeSubscriber(tabs[2]!);
    vi.advanceTimersByTime(4999);
    expect(presenceFrames(watcher)).toHaveLength(1);
    expect(await hub.presence('post:1')).toEqual([{ id: 2, n: 'bob' }, { id: 1, n: 'ada' }]);
    vi.advanceTimersByTime(1);
    expect(presenceFrames(watcher)).toEqual([
      { t: 'join', ch: 'post:1', u: { id: 1, n: 'ada' } },
      { t: 'leave', ch: 'post:1', u: { id: 1, n: 'ada' } },
    ]);
    expect(await hub.presence('post:1')).toEqual([{ id: 2, n: 'bob' }]);
    expect(hub.stats()).toMatchObject({ presenceEntries: 1, pendingTimers: 0 });
  });

  it('does not flap when a user reconnects within the grace period', async () => {
    const hub = setup({ presenceGraceMs: 5000 });
    const watcher = subscriber(bob);
    await hub.subscribe(watcher, 'post:1');
    const before = subscriber(ada);
    await hub.subscribe(before, 'post:1');
    watcher.sent.length = 0;
    hub.removeSubscriber(before);
    vi.advanceTimersByTime(3000);
    const after = subscriber(ada);
    expect((await hub.subscribe(after, 'post:1')).pres).toContainEqual({ id: 1, n: 'ada' });
    expect(hub.stats().pendingTimers).toBe(0);
    vi.advanceTimersByTime(60_000);
    expect(watcher.sent).toEqual([]);
  });

  it('leaves at once with a grace period of 0', async () => {
    const hub = setup({ presenceGraceMs: 0 });
    const watcher = subscriber(bob);
    await hub.subscribe(watcher, 'post:1');
    const a = subscriber(ada);
    await hub.subscribe(a, 'post:1');
    hub.removeSubscriber(a);
    expect(presenceFrames(watcher).map((f) => f.t)).toEqual(['join', 'leave']);
    expect(hub.stats()).toMatchObject({ presenceEntries: 1, pendingTimers: 0 });
  });

  it('keeps presence per channel', async () => {
    const hub = setup();
    const a = subscriber(ada);
    await hub.subscribe(a, 'post:1');
    await hub.subscribe(subscriber(bob), 'post:2');
    expect(await hub.presence('post:1')).toEqual([{ id: 1, n: 'ada' }]);
    expect(await hub.presence('post:2')).toEqual([{ id: 2, n: 'bob' }]);
    expect(a.sent).toEqual([]);
  });

  it('only counts users on a counts channel, with no join or leave frames', async () => {
    const hub = setup({ presenceGraceMs: 1000 });
    const a = subscriber(ada);
    expect((await hub.subscribe(a, 'feed')).pres).toEqual({ n: 1 });
    expect((await hub.subscribe(subscriber(ada), 'feed')).pres).toEqual({ n: 1 });
    const b = subscriber(bob);
    expect((await hub.subscribe(b, 'feed')).pres).toEqual({ n: 2 });
    hub.removeSubscriber(b);
    expect(await hub.presence('feed')).toEqual({ n: 2 });
    vi.advanceTimersByTime(1000);
    expect(await hub.presence('feed')).toEqual({ n: 1 });
    expect(a.sent).toEqual([]);
  });

  it('has no presence on channels whose policy has none', async () => {
    const hub = setup();
    const a = subscriber(ada);
    expect((await hub.subscribe(a, 'user:1')).pres).toBeUndefined();
    expect(await hub.presence('user:1')).toEqual([]);
    expect(hub.stats().presenceEntries).toBe(0);
    await expect(hub.presence('nope')).rejects.toMatchObject({ code: 'unknown_channel' });
  });

  it('does not count a subscription that never went live', async () => {
    const hub = setup();
    hub.definePolicy('room', { canSubscribe: () => false, presence: 'users' });
    await expect(hub.subscribe(subscriber(ada), 'room:1')).rejects.toMatchObject({ code: 'forbidden' });
    expect(await hub.presence('room:1')).toEqual([]);
    expect(hub.stats().pendingTimers).toBe(0);
  });
});

describe('Hub presence with an injected clock and timers', () => {
  it('leaves when the injected clock says the grace is over, even if a timer fires early', async () => {
    let now = 0;
    const timers: { at: number; run: () => void; cleared: boolean }[] = [];
    const hub = setup({
      presenceGraceMs: 100,
      clock: () => now,
      setTimer: (run, ms) => {
        const timer = { at: now + ms, run, cleared: false };
        timers.push(timer);
        return timer;
      },
      clearTimer: (handle) => {
        (handle as { cleared: boolean }).cleared = true;
      },
    });
    const watcher = subscriber(bob);
    await hub.subscribe(watcher, 'post:1');
    const a = subscriber(ada);
    await hub.subscribe(a, 'post:1');
    hub.removeSubscriber(a);
    now = 60;
    timers.shift()!.run();
    expect(presenceFrames(watcher).map((f) => f.t)).toEqual(['join']);
    expect(timers).toHaveLength(1);
    expect(timers[0]!.at).toBe(100);
    now = 100;
    timers.shift()!.run();
    expect(presenceFrames(watcher).map((f) => f.t)).toEqual(['join', 'leave']);
    expect(hub.stats().pendingTimers).toBe(0);
  });
});
