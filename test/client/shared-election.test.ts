import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { LeaderElection, type ElectionOptions } from '../../src/client/realtime/shared/election';
import { FakeLocks } from './fake-tabs';

/** The leader election over Web Locks, with fake timers and an in-memory lock manager. No server. */

const SILENCE_MS = 5_000;

function candidate(locks: FakeLocks, owner: string, options: Partial<ElectionOptions> = {}) {
  const log: string[] = [];
  const election = new LeaderElection({
    lock: 'app:leader',
    locks: locks.for(owner),
    timers: { setTimeout: (fn, ms) => setTimeout(fn, ms), clearTimeout: (h) => clearTimeout(h as number) },
    clock: Date.now,
    silenceMs: SILENCE_MS,
    lead: () => {
      log.push('lead');
      return () => log.push('resign');
    },
    ...options,
  });
  return { election, log };
}

beforeEach(() => vi.useFakeTimers());
afterEach(() => vi.useRealTimers());

describe('the leader election', () => {
  it('one tab leads; when it leaves, the next in line leads at once, and only it', async () => {
    const locks = new FakeLocks();
    const [a, b, c] = ['a', 'b', 'c'].map((owner) => candidate(locks, owner));
    for (const tab of [a!, b!, c!]) tab.election.start();
    await vi.advanceTimersByTimeAsync(0);
    expect([a!.election.state, b!.election.state, c!.election.state]).toEqual(['leading', 'waiting', 'waiting']);
    expect(locks.holder('app:leader')).toBe('a');

    a!.election.stop();
    await vi.advanceTimersByTimeAsync(0);
    expect(a!.log).toEqual(['lead', 'resign']);
    expect([a!.election.state, b!.election.state, c!.election.state]).toEqual(['idle', 'leading', 'waiting']);
    expect(b!.log).toEqual(['lead']);
    expect(c!.log).toEqual([]);
  });

  it('a leader that crashes (no goodbye) is replaced as soon as the browser frees its lock', async () => {
    const locks = new FakeLocks();
    const [a, b] = ['a', 'b'].map((owner) => candidate(locks, owner));
    a!.election.start();
    await vi.advanceTimersByTimeAsync(0);
    b!.election.start();
    locks.crash('a');
    await vi.advanceTimersByTimeAsync(0);
    expect(b!.election.state).toBe('leading');
  });

  it('a leader that hangs holding the lock: a waiting tab that hears nothing for silenceMs takes it; the old one steps down and queues', async () => {
    const locks = new FakeLocks();
    const [a, b] = ['a', 'b'].map((owner) => candidate(locks, owner));
    a!.election.start();
    await vi.advanceTimersByTimeAsync(0);
    b!.election.start();
    // The hub speaks every second for a while: no takeover.
    for (let i = 0; i < 8; i += 1) {
      await vi.advanceTimersByTimeAsync(1_000);
      b!.election.heard();
    }
    expect(b!.election.state).toBe('waiting');
    // Then silence.
    await vi.advanceTimersByTimeAsync(SILENCE_MS - 1);
    expect(b!.election.state).toBe('waiting');
    await vi.advanceTimersByTimeAsync(1 + SILENCE_MS / 5);
    expect(b!.election.state).toBe('leading');
    expect(locks.holder('app:leader')).toBe('b');
    expect(a!.log).toEqual(['lead', 'resign']);
    expect(a!.election.state).toBe('waiting');
    // …and a is next in line when b leaves.
    b!.election.stop();
    await vi.advanceTimersByTimeAsync(0);
    expect(a!.election.state).toBe('leading');
    expect(a!.log).toEqual(['lead', 'resign', 'lead']);
  });

  it('a hidden tab does not take the lead by force (its own timers are the throttled ones); once visible it does', async () => {
    const locks = new FakeLocks();
    let visible = false;
    const a = candidate(locks, 'a');
    const b = candidate(locks, 'b', { mayTakeOver: () => visible });
    a.election.start();
    await vi.advanceTimersByTimeAsync(0);
    b.election.start();
    await vi.advanceTimersByTimeAsync(SILENCE_MS * 4);
    expect(b.election.state).toBe('waiting');
    visible = true;
    await vi.advanceTimersByTimeAsync(SILENCE_MS / 5);
    expect(b.election.state).toBe('leading');
  });

  it('stop() while waiting leaves the queue; a later grant is let go at once', async () => {
    const locks = new FakeLocks();
    const [a, b, c] = ['a', 'b', 'c'].map((owner) => candidate(locks, owner));
    a!.election.start();
    await vi.advanceTimersByTimeAsync(0);
    b!.election.start();
    c!.election.start();
    b!.election.stop();
    a!.election.stop();
    await vi.advanceTimersByTimeAsync(0);
    expect(b!.log).toEqual([]);
    expect(c!.election.state).toBe('leading');
    // Starting again queues behind c.
    b!.election.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(b!.election.state).toBe('waiting');
  });
});
