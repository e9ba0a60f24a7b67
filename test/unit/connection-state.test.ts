import { describe, expect, it } from 'vitest';
import { canTransition, type ConnectionState } from '../../src/server/realtime/state';

describe('connection state table', () => {
  it('allows exactly the documented moves', () => {
    const states: ConnectionState[] = ['authenticating', 'open', 'closing', 'closed'];
    const allowed = states.flatMap((from) => states.filter((to) => canTransition(from, to)).map((to) => `${from}->${to}`));
    expect(allowed).toEqual([
      'authenticating->open', 'authenticating->closing', 'authenticating->closed',
      'open->closing', 'open->closed',
      'closing->closed',
    ]);
  });
});
