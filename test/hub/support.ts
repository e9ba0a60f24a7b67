import type { Broker, BrokerMessage, BrokerPosition, HistoryResult } from '../../src/server/broker';
import { settleAll } from '../../src/server/broker/broker';
import type { HubUser, Subscriber } from '../../src/server/hub';

/** A connection that records what the hub sent it (and, through `log`, when its ack went out). */
export class FakeSubscriber implements Subscriber {
  readonly id: string;
  readonly user: HubUser;
  readonly sent: { frame: string; kind: 'durable' | 'ephemeral' }[] = [];

  constructor(id: string, user: HubUser, readonly log: string[] = []) {
    this.id = id;
    this.user = user;
  }

  send(frame: string, kind: 'durable' | 'ephemeral'): void {
    this.sent.push({ frame, kind });
    this.log.push(frame);
  }

  /** How many times the hub interrupted it (Broker.onGap). */
  interrupted = 0;

  interrupt(): void {
    this.interrupted += 1;
  }

  /** The frames received, parsed. */
  frames(): Record<string, unknown>[] {
    return this.sent.map((entry) => JSON.parse(entry.frame) as Record<string, unknown>);
  }

  /** Publication offsets received live, in order. */
  offsets(): number[] {
    return this.frames().filter((f) => f.t === 'pub').map((f) => f.o as number);
  }
}

let nextId = 0;
export function subscriber(user: { id: number; name?: string }, log?: string[]): FakeSubscriber {
  nextId += 1;
  return new FakeSubscriber(`conn-${nextId}`, { id: user.id, name: user.name ?? `user${user.id}` }, log);
}

export interface Deferred<T = void> {
  promise: Promise<T>;
  resolve: (value: T) => void;
  reject: (error: unknown) => void;
}

export function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Lets every pending promise callback run (several turns, since hub steps chain awaits). */
export async function settle(turns = 10): Promise<void> {
  for (let i = 0; i < turns; i += 1) await Promise.resolve();
}

/**
 * A broker whose history/position answers can be held back, to publish while they are in
 * flight. `readFirst`: the answer is read before waiting (publications during the wait are
 * not in it); otherwise after (they are in it, and also arrive live).
 */
export class SlowBroker implements Broker {
  gate: Deferred | undefined;
  readFirst = true;
  failPublishOn: string | undefined;
  readonly calls: string[] = [];

  constructor(readonly inner: Broker) {}

  hold(): Deferred {
    this.gate = deferred();
    return this.gate;
  }

  async publish(message: BrokerMessage): Promise<void> {
    if (message.channel === this.failPublishOn) throw new Error(`publish to ${message.channel} failed`);
    return this.inner.publish(message);
  }

  /** One by one through publish() above, so its failure injection applies. */
  async publishAll(messages: readonly BrokerMessage[]): Promise<void> {
    return settleAll(messages.map((message) => this.publish(message)));
  }

  onMessage(listener: (message: BrokerMessage) => void): () => void {
    return this.inner.onMessage(listener);
  }

  async history(channel: string, since: BrokerPosition, limit: number): Promise<HistoryResult> {
    this.calls.push(`history ${channel}`);
    return this.#slow(() => this.inner.history(channel, since, limit));
  }

  async position(channel: string): Promise<BrokerPosition> {
    this.calls.push(`position ${channel}`);
    return this.#slow(() => this.inner.position(channel));
  }

  /** Watches are recorded in `calls`, in order with the reads. */
  watch(channel: string) {
    this.calls.push(`watch ${channel}`);
    return this.inner.watch(channel);
  }
  unwatch(channel: string) {
    this.inner.unwatch(channel);
  }
  onGap(listener: (channel: string | undefined) => void) {
    return this.inner.onGap(listener);
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  async #slow<T>(read: () => Promise<T>): Promise<T> {
    const gate = this.gate;
    if (gate === undefined) return read();
    if (this.readFirst) {
      const result = await read();
      await gate.promise;
      return result;
    }
    await gate.promise;
    return read();
  }
}

/** Committed events 1..n on a channel, as the CommitAnnouncer hands them over. */
export function events(channel: string, from: number, to: number, event = 'comment.created') {
  const list = [];
  for (let offset = from; offset <= to; offset += 1) list.push({ channel, offset, event, data: { n: offset } });
  return list;
}
