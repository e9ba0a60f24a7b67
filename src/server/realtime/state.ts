/**
 * The states of one realtime connection, and the only moves between them. The connection keeps
 * its state in a field and moves only through canTransition (an object per connection would
 * cost idle memory on every socket); every move is reported as a StateChange.
 */
export type ConnectionState = 'authenticating' | 'open' | 'closing' | 'closed';

const TRANSITIONS: Record<ConnectionState, readonly ConnectionState[]> = {
  authenticating: ['open', 'closing', 'closed'],
  open: ['closing', 'closed'],
  closing: ['closed'],
  closed: [],
};

/** Whether the table allows the move (for owners that keep the state in a field of their own). */
export function canTransition(from: ConnectionState, to: ConnectionState): boolean {
  return TRANSITIONS[from].includes(to);
}

export interface StateChange {
  from: ConnectionState;
  to: ConnectionState;
  code?: number;
  reason?: string;
}
