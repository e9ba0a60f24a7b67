import { describe, expect, it } from 'vitest';
import { connectionTransitions, StateMachine, type ConnectionState, type StateChange } from '../../src/client/realtime/state';
import { diffPresence, presenceFromResult, withJoin, withLeave } from '../../src/client/realtime/presence';
import { decideReconnect, retryHint } from '../../src/client/realtime/reconnect-policy';
import { acceptPublication, applySubscribeResult } from '../../src/client/realtime/recovery';
import type { Publication } from '../../src/protocol/frames';

/** The pure parts of the realtime client: its state machine, recovery, presence and reconnect rules. */

const pub = (o: number | undefined, ch = 'post:1'): Publication => (o === undefined ? { t: 'pub', ch, ev: 'typing', d: {} } : { t: 'pub', ch, o, ev: 'comment.created', d: { o } });

describe('the connection state machine', () => {
  it('follows the table and emits each change with its code, reason and next attempt time', () => {
    const machine = new StateMachine(connectionTransitions, 'idle');
    const changes: Array<StateChange<ConnectionState>> = [];
    machine.onChange((c) => changes.push(c));
    expect(machine.transition('connecting')).toBe(true);
    expect(machine.transition('open')).toBe(true);
    expect(machine.transition('reconnecting', { code: 4500, reason: 'slow', nextAttemptAt: 1234 })).toBe(true);
    expect(machine.transition('connecting')).toBe(true);
    expect(machine.transition('closed', { code: 4001, reason: 'token_invalid' })).toBe(true);
    expect(changes).toEqual([
      { state: 'connecting', previous: 'idle' },
      { state: 'open', previous: 'connecting' },
      { state: 'reconnecting', previous: 'open', code: 4500, reason: 'slow', nextAttemptAt: 1234 },
      { state: 'connecting', previous: 'reconnecting' },
      { state: 'closed', previous: 'connecting', code: 4001, reason: 'token_invalid' },
    ]);
  });

  it('refuses illegal edges without moving or emitting', () => {
    const machine = new StateMachine(connectionTransitions, 'idle');
    let calls = 0;
    machine.onChange(() => (calls += 1));
    expect(machine.transition('open')).toBe(false);
    expect(machine.transition('reconnecting')).toBe(false);
    expect(machine.transition('idle')).toBe(false);
    expect(machine.state).toBe('idle');
    machine.transition('connecting');
    expect(machine.transition('connecting')).toBe(false);
    expect(machine.transition('idle')).toBe(false);
    machine.transition('closed');
    expect(machine.transition('open')).toBe(false);
    expect(machine.transition('reconnecting')).toBe(false);
    expect(calls).toBe(2);
  });

  it('every edge in the table, and only those, is accepted', () => {
    const states = Object.keys(connectionTransitions) as ConnectionState[];
    for (const from of states) {
      for (const to of states) {
        const machine = new StateMachine(connectionTransitions, from);
        expect(machine.transition(to), `${from} → ${to}`).toBe(connectionTransitions[from].includes(to));
      }
    }
  });

  it('a listener added twice is called twice; each remover removes one registration', () => {
    const machine = new StateMachine(connectionTransitions, 'idle');
    const seen: string[] = [];
    const listener = (c: StateChange<ConnectionState>) => seen.push(c.state);
    const removeFirst = machine.onChange(listener);
    machine.onChange(listener);
    machine.transition('connecting');
    expect(seen).toEqual(['connecting', 'connecting']);
    removeFirst();
    removeFirst();
    machine.transition('open');
    expect(seen).toEqual(['connecting', 'connecting', 'open']);
  });
});

describe('recovery positions', () => {
  it('a first subscribe positions at {e, o} and delivers nothing', () => {
    expect(applySubscribeResult(undefined, { e: 'a', o: 7 })).toEqual({ deliver: [], position: { e: 'a', o: 7 } });
  });

  it('replayed publications at or before the position seen are dropped; the rest in order', () => {
    const outcome = applySubscribeResult({ e: 'a', o: 3 }, { e: 'a', o: 6, rec: true, pubs: [pub(2), pub(3), pub(4), pub(5), pub(5), pub(6)] });
    expect(outcome.deliver.map((p) => p.o)).toEqual([4, 5, 6]);
    expect(outcome.position).toEqual({ e: 'a', o: 6 });
    expect(outcome.resync).toBeUndefined();
  });

  it('rec: false → a resync at the new position, nothing delivered', () => {
    expect(applySubscribeResult({ e: 'a', o: 9 }, { e: 'b', o: 3, rec: false, why: 'epoch_changed' })).toEqual({ deliver: [], position: { e: 'b', o: 3 }, resync: { why: 'epoch_changed' } });
  });

  it('live publications: durable ones only past the position, ephemeral ones always', () => {
    expect(acceptPublication({ e: 'a', o: 4 }, pub(5))).toEqual({ deliver: true, position: { e: 'a', o: 5 } });
    expect(acceptPublication({ e: 'a', o: 5 }, pub(5))).toEqual({ deliver: false, position: { e: 'a', o: 5 } });
    expect(acceptPublication({ e: 'a', o: 5 }, pub(2))).toEqual({ deliver: false, position: { e: 'a', o: 5 } });
    expect(acceptPublication({ e: 'a', o: 5 }, pub(undefined))).toEqual({ deliver: true, position: { e: 'a', o: 5 } });
    expect(acceptPublication(undefined, pub(1)).deliver).toBe(false);
  });
});

describe('presence merging', () => {
  const alice = { id: 1, n: 'alice' };
  const bob = { id: 2, n: 'bob' };
  it('snapshots, joins and leaves return new sorted lists', () => {
    const start = presenceFromResult([bob, alice, bob]);
    expect(start).toEqual({ users: [alice, bob], count: 2 });
    const carol = { id: 3, n: 'carol' };
    expect(withJoin(start, carol).users).toEqual([alice, bob, carol]);
    expect(withJoin(start, bob).users).toEqual([alice, bob]);
    expect(withLeave(start, alice)).toEqual({ users: [bob], count: 1 });
    expect(start.users).toEqual([alice, bob]);
    expect(presenceFromResult({ n: 12 })).toEqual({ users: undefined, count: 12 });
  });

  it('the difference between two snapshots', () => {
    expect(diffPresence(presenceFromResult([alice, bob]), presenceFromResult([bob, { id: 3, n: 'c' }]))).toEqual({ joined: [{ id: 3, n: 'c' }], left: [alice] });
  });
});

describe('reconnect decisions by close code', () => {
  const never = () => {
    throw new Error('the backoff must not be consulted');
  };
  it('4001, 4003, 4009 and 4010 stop', () => {
    for (const code of [4001, 4003, 4009, 4010, 4400]) expect(decideReconnect({ code, reason: '', opened: true }, never)).toEqual({ kind: 'stop' });
  });

  it("1012 waits the server's retry_ms without growing the backoff", () => {
    expect(decideReconnect({ code: 1012, reason: '{"retry_ms":1234}', opened: true }, never)).toEqual({ kind: 'retry', delayMs: 1234, refreshToken: false });
    expect(decideReconnect({ code: 1012, reason: 'no hint', opened: true }, () => 77)).toEqual({ kind: 'retry', delayMs: 77, refreshToken: false });
    expect(retryHint('{"retry_ms":-5}')).toBeUndefined();
  });

  it('4501 reconnects with a refreshed token; others back off; Retry-After is a floor', () => {
    expect(decideReconnect({ code: 4501, reason: 'token_expired', opened: true }, () => 10)).toEqual({ kind: 'retry', delayMs: 10, refreshToken: true });
    expect(decideReconnect({ code: 4500, reason: '', opened: true }, () => 10)).toEqual({ kind: 'retry', delayMs: 10, refreshToken: false });
    expect(decideReconnect({ code: 1006, reason: '', opened: false, retryAfterMs: 3000 }, () => 10)).toEqual({ kind: 'retry', delayMs: 3000, refreshToken: false });
    expect(decideReconnect({ code: 1006, reason: '', opened: false, retryAfterMs: 5 }, () => 10)).toEqual({ kind: 'retry', delayMs: 10, refreshToken: false });
  });
});
