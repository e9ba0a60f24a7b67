import { describe, expect, it } from 'vitest';
import { answerFor, earliest, remember, type ChannelStream } from '../../src/client/realtime/shared/replay';
import { emptyPresence } from '../../src/client/realtime/presence';
import { connectionTransitions, pathTo } from '../../src/client/realtime/state';
import type { Publication } from '../../src/protocol/frames';

/** The pure rules of the shared connection: a tab's answer from the hub's buffer, and a tab's state following the hub's. */

const pub = (o: number): Publication => ({ t: 'pub', ch: 'post:1', o, ev: 'x', d: o });
const stream = (over: Partial<ChannelStream> = {}): ChannelStream => ({ position: { e: 'k', o: 6 }, floor: { e: 'k', o: 3 }, gap: undefined, buffer: [pub(4), pub(5), pub(6)], ...over });

describe("a tab's answer from the hub's buffer", () => {
  it('replays what follows the tab’s position when the buffer covers it, and nothing when the tab is ahead', () => {
    expect(answerFor({ e: 'k', o: 4 }, stream(), emptyPresence)).toEqual({ result: { e: 'k', o: 6, rec: true, pubs: [pub(5), pub(6)] }, position: { e: 'k', o: 6 } });
    expect(answerFor({ e: 'k', o: 3 }, stream(), emptyPresence)).toMatchObject({ result: { pubs: [pub(4), pub(5), pub(6)] } });
    expect(answerFor({ e: 'k', o: 9 }, stream(), emptyPresence)).toEqual({ result: { e: 'k', o: 6, rec: true, pubs: [] }, position: { e: 'k', o: 9 } });
  });

  it('"from now" starts at the hub’s position, with the presence the hub holds', () => {
    const presence = { users: [{ id: 1, n: 'alice' }], count: 1 };
    expect(answerFor(undefined, stream(), presence)).toEqual({ result: { e: 'k', o: 6, pres: [{ id: 1, n: 'alice' }] }, position: { e: 'k', o: 6 } });
    expect(answerFor(undefined, stream(), { users: undefined, count: 4 })).toMatchObject({ result: { pres: { n: 4 } } });
  });

  it('before the buffer: the hub must subscribe again from there; past a gap, or in another epoch, the tab resyncs', () => {
    expect(answerFor({ e: 'k', o: 2 }, stream(), emptyPresence)).toEqual({ rewind: { e: 'k', o: 2 } });
    expect(answerFor({ e: 'k', o: 2 }, stream({ floor: undefined }), emptyPresence)).toEqual({ rewind: { e: 'k', o: 2 } });
    // The resync is at the floor (where the hub's stream is complete from), and what the hub has after it follows,
    // as a direct client gets the live publications after the server's rec: false.
    expect(answerFor({ e: 'k', o: 2 }, stream({ gap: 'history_trimmed' }), emptyPresence)).toEqual({ result: { e: 'k', o: 3, rec: false, why: 'history_trimmed' }, position: { e: 'k', o: 6 }, then: [pub(4), pub(5), pub(6)] });
    expect(answerFor({ e: 'old', o: 9 }, stream(), emptyPresence)).toEqual({ result: { e: 'k', o: 3, rec: false, why: 'epoch_changed' }, position: { e: 'k', o: 6 }, then: [pub(4), pub(5), pub(6)] });
    // Nothing known before the position: the resync is there, with nothing to follow.
    expect(answerFor({ e: 'old', o: 9 }, stream({ floor: undefined, buffer: [] }), emptyPresence)).toEqual({ result: { e: 'k', o: 6, rec: false, why: 'epoch_changed' }, position: { e: 'k', o: 6 }, then: [] });
  });

  it('the buffer keeps the last `size` publications and moves its floor past what it drops', () => {
    const buffer = [pub(4), pub(5)];
    expect(remember(buffer, { e: 'k', o: 3 }, pub(7), 2)).toEqual({ e: 'k', o: 4 });
    expect(buffer).toEqual([pub(5), pub(7)]);
  });

  it('one subscription serves every tab from the earliest position of an epoch; "from now" asks nothing', () => {
    expect(earliest([undefined, { e: 'k', o: 7 }, { e: 'k', o: 3 }, { e: 'x', o: 1 }])).toEqual({ e: 'k', o: 3 });
    expect(earliest([undefined, undefined])).toBeUndefined();
  });
});

describe("a tab's state following its hub's", () => {
  it('takes the shortest legal way there', () => {
    expect(pathTo(connectionTransitions, 'idle', 'open')).toEqual(['connecting', 'open']);
    expect(pathTo(connectionTransitions, 'open', 'connecting')).toEqual(['reconnecting', 'connecting']);
    expect(pathTo(connectionTransitions, 'closed', 'open')).toEqual(['connecting', 'open']);
    expect(pathTo(connectionTransitions, 'open', 'open')).toEqual([]);
    expect(pathTo(connectionTransitions, 'reconnecting', 'closed')).toEqual(['closed']);
  });
});
