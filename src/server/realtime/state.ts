/** The states of one realtime connection, and the only moves between them. */
export type ConnectionState = 'authenticating' | 'open' | 'closing' | 'closed';

const TRANSITIONS: Record<ConnectionState, readonly ConnectionState[]> = {
  authenticating: ['open', 'closing', 'closed'],
  open: ['closing', 'closed'],
  closing: ['closed'],
  closed: [],
};

export interface StateChange {
  from: ConnectionState;
  to: ConnectionState;
  code?: number;
  reason?: string;
}

/**
 * An explicit state machine: illegal moves are refused (and reported), never silently taken.
 * The listener gets the owner back, so one shared listener serves every connection (no closure
 * per connection: idle memory per socket is part of the product).
 */
export class ConnectionStateMachine<Owner = unknown> {
  #state: ConnectionState = 'authenticating';
  readonly #owner: Owner;
  readonly #onChange: (owner: Owner, change: StateChange) => void;

  constructor(owner: Owner, onChange: (owner: Owner, change: StateChange) => void = () => {}) {
    this.#owner = owner;
    this.#onChange = onChange;
  }

  get state(): ConnectionState {
    return this.#state;
  }

  is(...states: ConnectionState[]): boolean {
    return states.includes(this.#state);
  }

  /** Moves to `to` if the table allows it; returns false (and stays) otherwise. */
  transition(to: ConnectionState, detail: { code?: number; reason?: string } = {}): boolean {
    if (!TRANSITIONS[this.#state].includes(to)) return false;
    const from = this.#state;
    this.#state = to;
    this.#onChange(this.#owner, { from, to, ...detail });
    return true;
  }
}
