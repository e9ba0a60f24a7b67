/**
 * Explicit state machines for the realtime client: a string-literal union of states, a
 * transition table, and one `transition(to, detail)` that refuses illegal edges and emits the
 * change. No boolean bags: "are we reconnecting?" is `state === 'reconnecting'`, nothing else.
 */

/** What every state change carries: the close code and reason that caused it, when there is one. */
export interface TransitionDetail {
  code?: number;
  reason?: string;
  /** On 'reconnecting': when the next attempt starts (milliseconds, on the client's clock). */
  nextAttemptAt?: number;
}

export interface StateChange<S extends string> extends TransitionDetail {
  state: S;
  previous: S;
}

export type TransitionTable<S extends string> = Readonly<Record<S, readonly S[]>>;

/**
 * A generic state machine over a transition table. Listeners are kept in a list, so the same
 * function added twice is called twice and each `onChange` returns its own remover.
 *
 * @example
 * const machine = new StateMachine(connectionTransitions, 'idle');
 * machine.onChange(({ state, code }) => console.log(state, code));
 * machine.transition('connecting'); // true
 * machine.transition('idle');       // false: not an edge of the table
 */
export class StateMachine<S extends string> {
  readonly #table: TransitionTable<S>;
  #state: S;
  #listeners: Array<(change: StateChange<S>) => void> = [];

  constructor(table: TransitionTable<S>, initial: S) {
    this.#table = table;
    this.#state = initial;
  }

  get state(): S {
    return this.#state;
  }

  is(...states: S[]): boolean {
    return states.includes(this.#state);
  }

  /** True when the table has an edge from the current state to `to`. */
  can(to: S): boolean {
    return this.#table[this.#state].includes(to);
  }

  /**
   * Moves to `to` when the table allows it and notifies the listeners; returns false (and
   * stays put, emitting nothing) otherwise.
   */
  transition(to: S, detail: TransitionDetail = {}): boolean {
    if (!this.can(to)) return false;
    const previous = this.#state;
    this.#state = to;
    const change: StateChange<S> = { ...detail, state: to, previous };
    // A snapshot: a listener that adds or removes listeners does not change this round.
    for (const listener of [...this.#listeners]) listener(change);
    return true;
  }

  /** Adds a listener; returns a function that removes this one registration. */
  onChange(listener: (change: StateChange<S>) => void): () => void {
    const entry = (change: StateChange<S>) => listener(change);
    this.#listeners.push(entry);
    return () => {
      this.#listeners = this.#listeners.filter((l) => l !== entry);
    };
  }
}

/**
 * The realtime connection. 'open' means authenticated (the `auth` ack arrived), not merely a
 * socket that is up. 'closed' is where the client stops: `disconnect()`, or a close code that
 * must not be retried (4000-4499); `connect()` leaves it again.
 */
export type ConnectionState = 'idle' | 'connecting' | 'open' | 'reconnecting' | 'closed';

export const connectionTransitions: TransitionTable<ConnectionState> = {
  idle: ['connecting', 'closed'],
  connecting: ['open', 'reconnecting', 'closed'],
  open: ['reconnecting', 'closed'],
  reconnecting: ['connecting', 'closed'],
  closed: ['connecting'],
};

/**
 * One subscription. 'pending': waiting for a connection; 'subscribing': a `sub` is in flight;
 * 'live': acknowledged, publications flow; 'failed': the server refused it (e.g. forbidden);
 * 'unsubscribed': the app let go of it. Losing the connection moves a live one back to pending.
 */
export type SubscriptionState = 'pending' | 'subscribing' | 'live' | 'failed' | 'unsubscribed';

export const subscriptionTransitions: TransitionTable<SubscriptionState> = {
  pending: ['subscribing', 'unsubscribed'],
  subscribing: ['live', 'pending', 'failed', 'unsubscribed'],
  live: ['pending', 'unsubscribed'],
  failed: ['unsubscribed'],
  unsubscribed: [],
};

/** The client's connection state machine, starting at 'idle'. */
export function createConnectionState(): StateMachine<ConnectionState> {
  return new StateMachine(connectionTransitions, 'idle');
}

/**
 * The shortest run of legal transitions from `from` to `to` (empty when already there; undefined
 * when the table has no way). A shared tab follows its hub's connection with it: a tab that
 * attaches to an open connection goes idle → connecting → open, as if it had connected itself.
 *
 * @example
 * pathTo(connectionTransitions, 'open', 'connecting') // → ['reconnecting', 'connecting']
 */
export function pathTo<S extends string>(table: TransitionTable<S>, from: S, to: S): S[] | undefined {
  if (from === to) return [];
  const previous = new Map<S, S>([[from, from]]);
  const queue: S[] = [from];
  while (queue.length > 0) {
    const state = queue.shift()!;
    for (const next of table[state]) {
      if (previous.has(next)) continue;
      previous.set(next, state);
      if (next === to) {
        const path: S[] = [to];
        for (let at = state; at !== from; at = previous.get(at)!) path.unshift(at);
        return path;
      }
      queue.push(next);
    }
  }
  return undefined;
}
