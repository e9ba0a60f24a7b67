import { describe, expect, it } from 'vitest';
import type { BrokerMessage } from '../../src/server/broker';
import { presenceFrame, publicationFrame } from '../../src/server/hub/frames-out';
import { mergeReplay, subscribeAnswer } from '../../src/server/hub/recovery';

const pub = (offset: number): BrokerMessage => ({ channel: 'post:1', offset, event: 'e', data: offset });

describe('mergeReplay (pure)', () => {
  it('appends held publications newer than the replay and drops the duplicates', () => {
    const merged = mergeReplay([pub(5), pub(6)], [pub(6), pub(7), pub(8)], 6);
    expect(merged.messages.map((m) => m.offset)).toEqual([5, 6, 7, 8]);
    expect(merged.offset).toBe(8);
  });

  it('drops held publications the position already covers', () => {
    expect(mergeReplay([], [pub(3), pub(4)], 4)).toEqual({ messages: [], offset: 4 });
  });
});

describe('subscribeAnswer (pure)', () => {
  it('without since: epoch and offset, pubs only for what arrived meanwhile', () => {
    expect(subscribeAnswer({ epoch: 'E', offset: 4 }, [])).toEqual({ e: 'E', o: 4 });
    expect(subscribeAnswer({ epoch: 'E', offset: 4 }, [pub(4), pub(5)])).toEqual({ e: 'E', o: 5, pubs: [{ t: 'pub', ch: 'post:1', o: 5, ev: 'e', d: 5 }] });
  });

  it('recovered: rec true and pubs, even when empty', () => {
    expect(subscribeAnswer({ ok: true, publications: [], epoch: 'E', offset: 4 }, [])).toEqual({ e: 'E', o: 4, rec: true, pubs: [] });
  });

  it('not recovered: rec false and why', () => {
    expect(subscribeAnswer({ ok: false, why: 'epoch_changed', epoch: 'E', offset: 4 }, [])).toEqual({ e: 'E', o: 4, rec: false, why: 'epoch_changed' });
  });
});

describe('outgoing frames', () => {
  it('serialize a publication with the keys in wire order', () => {
    expect(publicationFrame({ channel: 'post:1', offset: 3, event: 'comment.created', data: { id: 9 } })).toBe('{"t":"pub","ch":"post:1","o":3,"ev":"comment.created","d":{"id":9}}');
  });

  it('leave out the offset of an ephemeral publication and undefined data', () => {
    expect(publicationFrame({ channel: 'post:1', event: 'typing', data: undefined })).toBe('{"t":"pub","ch":"post:1","ev":"typing"}');
  });

  it('escape what they embed', () => {
    const frame = publicationFrame({ channel: 'post:"1', event: 'e', data: '</script>\u2028' });
    expect(JSON.parse(frame)).toEqual({ t: 'pub', ch: 'post:"1', ev: 'e', d: '</script>\u2028' });
    expect(JSON.parse(presenceFrame('join', 'post:1', { id: 7, n: 'a"b' }))).toEqual({ t: 'join', ch: 'post:1', u: { id: 7, n: 'a"b' } });
  });
});
