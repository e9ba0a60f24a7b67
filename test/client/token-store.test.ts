import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { TandemClientError } from '../../src/client/errors';
import { TokenStore, type AccessToken } from '../../src/client/token-store';

const now = () => Date.now();

/** A refresher whose answers arrive after the given delays (fake timers), counting its calls. */
function slowRefresher(plan: Array<{ afterMs: number; token: string }>) {
  let calls = 0;
  const refresh = vi.fn(() => {
    const step = plan[Math.min(calls, plan.length - 1)]!;
    calls += 1;
    return new Promise<AccessToken>((resolve) => {
      setTimeout(() => resolve({ accessToken: step.token, expiresAt: Date.now() + 60_000 }), step.afterMs);
    });
  });
  return refresh;
}

beforeEach(() => {
  vi.useFakeTimers({ now: 1_750_000_000_000 });
});
afterEach(() => {
  vi.useRealTimers();
});

describe('TokenStore.getFresh', () => {
  it('answers the held token while it is fresh, without refreshing', async () => {
    const refresh = slowRefresher([{ afterMs: 10, token: 'new' }]);
    const store = new TokenStore({ refresh, now, initial: { accessToken: 'held', expiresAt: Date.now() + 60_000 } });
    await expect(store.getFresh()).resolves.toBe('held');
    expect(refresh).not.toHaveBeenCalled();
  });

  it('refreshes a token that is within the margin of its expiry', async () => {
    const refresh = slowRefresher([{ afterMs: 10, token: 'new' }]);
    const store = new TokenStore({ refresh, now, marginMs: 5_000, initial: { accessToken: 'held', expiresAt: Date.now() + 4_000 } });
    const fresh = store.getFresh();
    await vi.advanceTimersByTimeAsync(10);
    await expect(fresh).resolves.toBe('new');
    expect(store.current?.accessToken).toBe('new');
  });

  it('makes 10 concurrent callers share one refresh', async () => {
    const refresh = slowRefresher([{ afterMs: 100, token: 'shared' }]);
    const store = new TokenStore({ refresh, now, initial: { accessToken: 'expired', expiresAt: Date.now() - 1 } });
    const all = Promise.all(Array.from({ length: 10 }, () => store.getFresh()));
    await vi.advanceTimersByTimeAsync(100);
    expect(await all).toEqual(new Array<string>(10).fill('shared'));
    expect(refresh).toHaveBeenCalledTimes(1);
    // Once it has landed, the next caller uses it: still one refresh.
    await expect(store.getFresh()).resolves.toBe('shared');
    expect(refresh).toHaveBeenCalledTimes(1);
  });

  it('answers undefined with no token and no refresher (anonymous use)', async () => {
    await expect(new TokenStore({ now }).getFresh()).resolves.toBeUndefined();
  });
});

describe('TokenStore generations', () => {
  it('drops a slow old refresh that resolves after a newer one', async () => {
    const refresh = slowRefresher([{ afterMs: 1000, token: 'old' }, { afterMs: 100, token: 'newer' }]);
    const store = new TokenStore({ refresh, now, initial: { accessToken: 'expired', expiresAt: Date.now() - 1 } });
    const seen: Array<string | undefined> = [];
    store.onChange((t) => seen.push(t?.accessToken));

    const oldCaller = store.getFresh();
    store.clear(); // signed out and in again meanwhile...
    store.set({ accessToken: 'relogin', expiresAt: Date.now() - 1 }); // ...with a token that needs refreshing at once
    const newCaller = store.getFresh();
    expect(refresh).toHaveBeenCalledTimes(2);

    await vi.advanceTimersByTimeAsync(100);
    await expect(newCaller).resolves.toBe('newer');
    await vi.advanceTimersByTimeAsync(900);
    // The old refresh's caller gets the current token, and the store keeps it.
    await expect(oldCaller).resolves.toBe('newer');
    expect(store.current?.accessToken).toBe('newer');
    expect(seen).toEqual([undefined, 'relogin', 'newer']);
  });

  it('never lets a refresh overwrite a token set by a login while it was in flight', async () => {
    const refresh = slowRefresher([{ afterMs: 500, token: 'from-refresh' }]);
    const store = new TokenStore({ refresh, now, initial: { accessToken: 'expired', expiresAt: Date.now() - 1 } });
    const pending = store.getFresh();
    const generation = store.generation;
    store.set({ accessToken: 'from-login', expiresAt: Date.now() + 60_000 });
    expect(store.generation).toBe(generation + 1);
    await vi.advanceTimersByTimeAsync(500);
    await expect(pending).resolves.toBe('from-login');
    expect(store.current?.accessToken).toBe('from-login');
  });

  it('fails the callers of a refresh that lands after clear()', async () => {
    const refresh = slowRefresher([{ afterMs: 200, token: 'late' }]);
    const store = new TokenStore({ refresh, now, initial: { accessToken: 'expired', expiresAt: Date.now() - 1 } });
    const pending = store.getFresh();
    const settled = pending.catch((e: unknown) => e);
    store.clear();
    await vi.advanceTimersByTimeAsync(200);
    const error = await settled;
    expect(error).toBeInstanceOf(TandemClientError);
    expect((error as TandemClientError).code).toBe('signed_out');
    expect(store.current).toBeUndefined();
  });
});

describe('TokenStore after a 401', () => {
  it('refreshes once for many requests rejected with the same token', async () => {
    const refresh = slowRefresher([{ afterMs: 50, token: 'second' }]);
    const store = new TokenStore({ refresh, now, initial: { accessToken: 'first', expiresAt: Date.now() + 60_000 } });
    const all = Promise.all([store.refreshAfterRejection('first'), store.refreshAfterRejection('first'), store.refreshAfterRejection('first')]);
    await vi.advanceTimersByTimeAsync(50);
    expect(await all).toEqual(['second', 'second', 'second']);
    // A request that was sent with 'first' and fails late does not refresh again.
    await expect(store.refreshAfterRejection('first')).resolves.toBe('second');
    expect(refresh).toHaveBeenCalledTimes(1);
  });

  it('lets every waiter see a refresh failure, then tries again on the next call', async () => {
    let calls = 0;
    const refresh = vi.fn(async () => {
      calls += 1;
      if (calls === 1) throw new TandemClientError('network_error', 'offline');
      return { accessToken: 'ok', expiresAt: Date.now() + 60_000 };
    });
    const store = new TokenStore({ refresh, now });
    const results = await Promise.allSettled([store.getFresh(), store.getFresh()]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    await expect(store.getFresh()).resolves.toBe('ok');
    expect(refresh).toHaveBeenCalledTimes(2);
  });

  it('is not wedged by a refresher that throws synchronously', async () => {
    let calls = 0;
    const refresh = vi.fn((): Promise<AccessToken> => {
      calls += 1;
      if (calls === 1) throw new Error('sync');
      return Promise.resolve({ accessToken: 'ok', expiresAt: Date.now() + 60_000 });
    });
    const store = new TokenStore({ refresh, now });
    await expect(store.getFresh()).rejects.toThrow('sync');
    await expect(store.getFresh()).resolves.toBe('ok');
  });
});

describe('TokenStore listeners', () => {
  it('calls each registration, even of the same function, and removes them one by one', () => {
    const store = new TokenStore({ now });
    const seen: string[] = [];
    const listener = (t: AccessToken | undefined) => seen.push(t?.accessToken ?? 'cleared');
    const offFirst = store.onChange(listener);
    const offSecond = store.onChange(listener);
    store.set({ accessToken: 'a', expiresAt: 1 });
    offFirst();
    store.clear();
    offSecond();
    store.set({ accessToken: 'b', expiresAt: 1 });
    expect(seen).toEqual(['a', 'a', 'cleared']);
  });
});

describe('TokenStore refreshLock (tabs sharing one refresh cookie)', () => {
  it('runs each refresh inside the lock: two stores sharing it never refresh at the same time', async () => {
    // A lock like navigator.locks.request: one holder at a time, in order of request.
    let tail: Promise<unknown> = Promise.resolve();
    let inside = 0;
    let most = 0;
    const lock = <T,>(run: () => Promise<T>): Promise<T> => {
      const next = tail.then(async () => {
        inside += 1;
        most = Math.max(most, inside);
        try {
          return await run();
        } finally {
          inside -= 1;
        }
      });
      tail = next.catch(() => {});
      return next;
    };
    let cookie = 1;
    const presented: number[] = [];
    // The server's side of a rotating refresh token: each use answers the next one, 20 ms later (fake timers).
    const refresh = (): Promise<AccessToken> => {
      const used = cookie;
      presented.push(used);
      return new Promise((resolve) => {
        setTimeout(() => {
          cookie = used + 1;
          resolve({ accessToken: `t${used}`, expiresAt: Date.now() + 60_000 });
        }, 20);
      });
    };
    const tabA = new TokenStore({ refresh, refreshLock: lock });
    const tabB = new TokenStore({ refresh, refreshLock: lock });
    const both = Promise.all([tabA.getFresh(), tabB.getFresh()]);
    await vi.advanceTimersByTimeAsync(40);
    const [a, b] = await both;
    expect(most).toBe(1);
    expect(presented).toEqual([1, 2]); // never the same refresh token twice
    expect([a, b]).toEqual(['t1', 't2']);
  });
});
