import type { Publication, RecoveryFailure, StreamPosition, SubscribeResult } from '../../../protocol/frames';
import type { ChannelPresence } from '../presence';

/**
 * Pure rules for answering a tab from the hub's one subscription to a channel: the hub keeps the
 * last publications it delivered (the buffer, complete after `floor`), so a tab that asks from a
 * recent position is answered from memory, as the server would; one that asks from further back
 * makes the hub subscribe again from there (a rewind), because only the server has that history.
 */

/** What the hub knows of a channel's stream. */
export interface ChannelStream {
  /** Where the hub's subscription is: the last publication delivered, or the answer's position. */
  position: StreamPosition;
  /** Every publication after this one, up to `position`, is in `buffer`; undefined: none is known. */
  floor: StreamPosition | undefined;
  /** Set when `floor` is where the server lost history (the hub's own resync): nothing before it can be had. */
  gap: RecoveryFailure | 'unknown' | undefined;
  buffer: readonly Publication[];
}

/**
 * A tab's answer and the position it leaves the tab at (`then`: publications to send right after it,
 * as live ones), or the position the hub must subscribe from again first.
 */
export type TabAnswer = { result: SubscribeResult; position: StreamPosition; then?: Publication[] } | { rewind: StreamPosition };

/**
 * The subscribe answer for a tab that asks from `since`, in the server's own terms, so the tab
 * applies it exactly as a direct client applies the server's (recovery.ts).
 *
 * @example
 * answerFor({ e: 'k', o: 4 }, { position: { e: 'k', o: 6 }, floor: { e: 'k', o: 3 }, gap: undefined, buffer: [p4, p5, p6] }, presence)
 * // → { result: { e: 'k', o: 6, rec: true, pubs: [p5, p6] }, position: { e: 'k', o: 6 } }
 */
export function answerFor(since: StreamPosition | undefined, stream: ChannelStream, presence: ChannelPresence): TabAnswer {
  const { position, floor, gap } = stream;
  const base: SubscribeResult = { e: position.e, o: position.o };
  const pres = presenceResult(presence);
  if (pres !== undefined) base.pres = pres;
  if (since === undefined) return { result: base, position: { ...position } };
  if (since.e !== position.e) return gapAnswer(base, stream, gap ?? 'epoch_changed');
  if (since.o >= position.o) return { result: { ...base, rec: true, pubs: [] }, position: { e: since.e, o: since.o } };
  if (floor !== undefined && floor.e === since.e && floor.o <= since.o) {
    return { result: { ...base, rec: true, pubs: stream.buffer.filter((p) => p.o !== undefined && p.o > since.o) }, position: { ...position } };
  }
  if (gap !== undefined) return gapAnswer(base, stream, gap);
  return { rewind: { e: since.e, o: since.o } };
}

/**
 * The tab cannot be told what it missed: it resyncs at the floor (the server's own resync position,
 * or where the buffer is complete from) and gets the buffer after it as live publications, as a
 * direct client gets those that follow the server's rec: false. Resyncing at the hub's position
 * instead would skip them, and a snapshot read before them would never see them.
 */
function gapAnswer(base: SubscribeResult, stream: ChannelStream, why: RecoveryFailure | 'unknown'): TabAnswer {
  const { position, floor, buffer } = stream;
  const from = floor !== undefined && floor.e === position.e && floor.o <= position.o ? floor : position;
  const result: SubscribeResult = { ...base, e: from.e, o: from.o, rec: false };
  if (why !== 'unknown') result.why = why;
  const then = from === position ? [] : buffer.filter((p) => p.o !== undefined && p.o > from.o);
  return { result, position: { e: position.e, o: position.o }, then };
}

/** The answer's `pres` for a presence the hub holds: the user list, or the count of a counts-only channel. */
export function presenceResult(presence: ChannelPresence): SubscribeResult['pres'] {
  if (presence.users !== undefined) return [...presence.users];
  if (presence.count !== undefined) return { n: presence.count };
  return undefined;
}

/**
 * Where one subscription must start to serve every position asked: the earliest one of the first
 * position's epoch (asking from any position covers "from now" too). Positions of another epoch
 * get `epoch_changed` whatever the hub does.
 */
export function earliest(positions: ReadonlyArray<StreamPosition | undefined>): StreamPosition | undefined {
  let first: StreamPosition | undefined;
  for (const position of positions) {
    if (position === undefined) continue;
    if (first === undefined || (position.e === first.e && position.o < first.o)) first = position;
  }
  return first === undefined ? undefined : { e: first.e, o: first.o };
}

/** Whether `a` asks from further back than `b` (undefined is "from now"). */
export function isBefore(a: StreamPosition | undefined, b: StreamPosition | undefined): boolean {
  if (a === undefined) return false;
  return b === undefined || (a.e === b.e && a.o < b.o);
}

/** Adds a delivered publication to the buffer, dropping the oldest past `size`; returns the new floor. */
export function remember(buffer: Publication[], floor: StreamPosition, pub: Publication, size: number): StreamPosition {
  buffer.push(pub);
  let next = floor;
  while (buffer.length > size) {
    const dropped = buffer.shift()!;
    next = { e: floor.e, o: dropped.o ?? next.o };
  }
  return next;
}
