import { describe, expect, it } from 'vitest';
import { connect, disconnect, expiry } from '../../src/server/hub/presence-state';

const ada = { id: 1, n: 'ada' };

describe('presence bookkeeping (pure)', () => {
  it('a user\'s first connection joins; further ones only count', () => {
    const first = connect(undefined, ada);
    expect(first).toEqual({ entry: { user: ada, connections: 1, goneAt: undefined }, transition: 'join' });
    const second = connect(first.entry, ada);
    expect(second).toEqual({ entry: { user: ada, connections: 2, goneAt: undefined }, transition: 'none' });
  });

  it('only the last connection going starts the grace period', () => {
    const two = connect(connect(undefined, ada).entry, ada).entry;
    const one = disconnect(two, 100);
    expect(one).toEqual({ entry: { user: ada, connections: 1, goneAt: undefined }, transition: 'none' });
    expect(disconnect(one.entry, 200)).toEqual({ entry: { user: ada, connections: 0, goneAt: 200 }, transition: 'grace' });
  });

  it('coming back within the grace period is a rejoin, announced to nobody', () => {
    const gone = disconnect(connect(undefined, ada).entry, 100).entry;
    expect(connect(gone, ada)).toEqual({ entry: { user: ada, connections: 1, goneAt: undefined }, transition: 'rejoin' });
  });

  it('leaves once the grace period has passed, not before', () => {
    const gone = disconnect(connect(undefined, ada).entry, 100).entry;
    expect(expiry(gone, 1000, 5000)).toEqual({ transition: 'wait', inMs: 4100 });
    expect(expiry(gone, 5100, 5000)).toEqual({ transition: 'leave' });
    expect(expiry(connect(gone, ada).entry, 9999, 5000)).toEqual({ transition: 'none' });
    expect(expiry(undefined, 9999, 5000)).toEqual({ transition: 'none' });
  });

  it('does not change the entries it is given', () => {
    const entry = connect(undefined, ada).entry;
    const copy = { ...entry };
    connect(entry, ada);
    disconnect(entry, 5);
    expect(entry).toEqual(copy);
  });
});
