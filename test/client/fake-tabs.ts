import type { BroadcastChannelConstructor, BroadcastChannelLike, LockManagerLike } from '../../src/client/index';

/**
 * An in-memory browser for the shared-connection tests: Web Locks and BroadcastChannel as the
 * specs describe them, shared by "tabs" that each get their own view, so a test can crash a tab
 * (its locks freed, its channels silent) as a real browser would. Delivery is a timer task, so
 * fake timers drive it. Messages are structured-cloned, as the real ones are.
 */

interface Waiter {
  owner: string;
  callback: (lock: unknown) => unknown;
  resolve(value: unknown): void;
  reject(error: unknown): void;
}

function abortError(): Error {
  return Object.assign(new Error('The lock request was aborted'), { name: 'AbortError' });
}

export class FakeLocks {
  readonly #held = new Map<string, Waiter>();
  readonly #queues = new Map<string, Waiter[]>();

  /** The lock manager one tab sees. */
  for(owner: string): LockManagerLike {
    return { request: (name, options, callback) => this.#request(owner, name, options, callback) };
  }

  /** Who holds the lock now. */
  holder(name: string): string | undefined {
    return this.#held.get(name)?.owner;
  }

  /** The tab is gone at once (a crash, a kill): its locks are free and its queued requests dropped. */
  crash(owner: string): void {
    for (const [name, queue] of this.#queues) this.#queues.set(name, queue.filter((w) => w.owner !== owner));
    for (const [name, waiter] of [...this.#held]) if (waiter.owner === owner) this.#release(name, waiter);
  }

  #request(owner: string, name: string, options: { signal?: AbortSignal; steal?: boolean }, callback: (lock: unknown) => unknown): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const waiter: Waiter = { owner, callback, resolve, reject };
      if (options.steal === true) {
        const holder = this.#held.get(name);
        this.#held.delete(name);
        holder?.reject(abortError());
        return this.#grant(name, waiter);
      }
      if (!this.#held.has(name) && (this.#queues.get(name) ?? []).length === 0) return this.#grant(name, waiter);
      this.#queues.set(name, [...(this.#queues.get(name) ?? []), waiter]);
      options.signal?.addEventListener('abort', () => {
        const queue = this.#queues.get(name) ?? [];
        if (!queue.includes(waiter)) return;
        this.#queues.set(name, queue.filter((w) => w !== waiter));
        reject(abortError());
      });
    });
  }

  #grant(name: string, waiter: Waiter): void {
    this.#held.set(name, waiter);
    void Promise.resolve()
      .then(() => waiter.callback({ name }))
      .then(
        (value) => {
          this.#release(name, waiter);
          waiter.resolve(value);
        },
        (error: unknown) => {
          this.#release(name, waiter);
          waiter.reject(error);
        },
      );
  }

  #release(name: string, waiter: Waiter): void {
    if (this.#held.get(name) !== waiter) return;
    this.#held.delete(name);
    const [next, ...rest] = this.#queues.get(name) ?? [];
    this.#queues.set(name, rest);
    if (next !== undefined) this.#grant(name, next);
  }
}

/** BroadcastChannels of one origin: a message reaches every other open channel of the same name, in order. */
export class FakeBroadcast {
  readonly #channels = new Set<{ name: string; owner: string; listeners: Array<(event: { data: unknown }) => void>; closed: boolean }>();
  /** Every message posted, for tests that count traffic. */
  readonly posted: Array<{ owner: string; name: string; data: unknown }> = [];

  /** The BroadcastChannel constructor one tab sees. */
  for(owner: string): BroadcastChannelConstructor {
    const broadcast = this;
    return class implements BroadcastChannelLike {
      readonly #entry;

      constructor(name: string) {
        this.#entry = { name, owner, listeners: [] as Array<(event: { data: unknown }) => void>, closed: false };
        broadcast.#channels.add(this.#entry);
      }

      postMessage(message: unknown): void {
        if (this.#entry.closed) throw new Error('InvalidStateError: the channel is closed');
        broadcast.posted.push({ owner, name: this.#entry.name, data: message });
        for (const target of broadcast.#channels) {
          if (target === this.#entry || target.name !== this.#entry.name || target.closed) continue;
          const data = structuredClone(message);
          setTimeout(() => {
            if (!target.closed) for (const listener of target.listeners) listener({ data });
          }, 0);
        }
      }

      addEventListener(_type: 'message', listener: (event: { data: unknown }) => void): void {
        this.#entry.listeners.push(listener);
      }

      close(): void {
        this.#entry.closed = true;
        broadcast.#channels.delete(this.#entry);
      }
    };
  }

  /** The tab is gone: its channels hear and say nothing more. */
  crash(owner: string): void {
    for (const entry of [...this.#channels]) {
      if (entry.owner !== owner) continue;
      entry.closed = true;
      this.#channels.delete(entry);
    }
  }
}

/** A page's window, for pagehide / pageshow. */
export class FakeWindow {
  readonly #listeners = new Map<string, Array<(event: { persisted?: boolean }) => void>>();

  addEventListener(type: string, listener: (event: { persisted?: boolean }) => void): void {
    this.#listeners.set(type, [...(this.#listeners.get(type) ?? []), listener]);
  }

  dispatch(type: string, event: { persisted?: boolean } = {}): void {
    for (const listener of this.#listeners.get(type) ?? []) listener(event);
  }
}
