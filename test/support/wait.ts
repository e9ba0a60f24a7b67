// Taken when this module loads, before any test installs fake timers: waiting here stays real
// while a test drives a server's grace timers with vi.useFakeTimers({ toFake: ['setTimeout', ...] }).
const realSetTimeout = globalThis.setTimeout;
const realNow = Date.now;

/** Resolves after `ms` real milliseconds (fake timers do not hold it back). */
export const sleep = (ms: number) => new Promise<void>((resolve) => realSetTimeout(resolve, ms));

/** Polls every 5 ms until `check` returns something other than undefined/false, and returns it. */
export async function until<T>(check: () => T | undefined | false, what: string, timeoutMs = 5_000): Promise<T> {
  const deadline = realNow() + timeoutMs;
  for (;;) {
    const value = check();
    if (value !== undefined && value !== false) return value;
    if (realNow() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

/** Like `until`, for a check that must await (a browser, a request): polled every 20 ms, one at a time. */
export async function eventually<T>(check: () => Promise<T | undefined | false>, what: string, timeoutMs = 5_000): Promise<T> {
  const deadline = realNow() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (realNow() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}
