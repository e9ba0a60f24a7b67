import type { Publication, RecoveryFailure, StreamPosition, SubscribeResult } from '../../protocol/frames';

/**
 * Pure rules for positions in a channel's stream: what to deliver from a subscribe answer and
 * from a live publication, so that every durable publication reaches the app once, in order.
 */

export interface SubscribeOutcome {
  /** Replayed publications to deliver, in order, none at or before the position already seen. */
  deliver: Publication[];
  /** Where the subscription continues from. */
  position: StreamPosition;
  /** Set when the server could not replay what was missed: the app must refetch its state. */
  resync?: { why: RecoveryFailure | 'unknown' };
}

/**
 * Applies a SubscribeResult to the position the subscription asked from (`since`).
 *
 * @example
 * applySubscribeResult({ e: 'k3', o: 17 }, { e: 'k3', o: 18, rec: true, pubs: [pub18] })
 * // → { deliver: [pub18], position: { e: 'k3', o: 18 } }
 */
export function applySubscribeResult(since: StreamPosition | undefined, result: SubscribeResult): SubscribeOutcome {
  if (result.rec === false) {
    return { deliver: [], position: { e: result.e, o: result.o }, resync: { why: result.why ?? 'unknown' } };
  }
  // With the same epoch, nothing at or before `since.o` is new; a fresh epoch starts over.
  let last = since !== undefined && since.e === result.e ? since.o : Number.NEGATIVE_INFINITY;
  const deliver: Publication[] = [];
  for (const pub of result.pubs ?? []) {
    if (pub.o === undefined || pub.o <= last) continue;
    deliver.push(pub);
    last = pub.o;
  }
  return { deliver, position: { e: result.e, o: Math.max(result.o, last) } };
}

export interface PublicationOutcome {
  deliver: boolean;
  position: StreamPosition | undefined;
}

/**
 * Decides whether a live publication is new. Ephemeral ones (no offset: typing) are always
 * delivered and move nothing; a durable one is delivered only past the position seen.
 */
export function acceptPublication(position: StreamPosition | undefined, pub: Publication): PublicationOutcome {
  if (pub.o === undefined) return { deliver: true, position };
  // No position yet means no acknowledged subscription: the server never sends one before its ack.
  if (position === undefined || pub.o <= position.o) return { deliver: false, position };
  return { deliver: true, position: { e: position.e, o: pub.o } };
}
