import type { SubscribeResult } from '../../protocol/frames';
import type { BrokerMessage, BrokerPosition, HistoryResult } from '../broker/broker';
import { publicationOf } from './frames-out';

/**
 * Merges a replay with the publications that arrived live while it was being fetched: the
 * replay first, then each held publication newer than everything before it (older ones are
 * already in the replay or covered by `position`, so they would be duplicates).
 * Returns the merged list and the offset the subscriber ends up at.
 */
export function mergeReplay(replayed: readonly BrokerMessage[], held: readonly BrokerMessage[], position: number): { messages: BrokerMessage[]; offset: number } {
  const messages = [...replayed];
  let offset = position;
  for (const message of replayed) if (message.offset !== undefined && message.offset > offset) offset = message.offset;
  for (const message of held) {
    if (message.offset === undefined || message.offset <= offset) continue;
    messages.push(message);
    offset = message.offset;
  }
  return { messages, offset };
}

/**
 * The subscribe answer from what the broker said and what arrived meanwhile.
 * Without `since` (`outcome` is a position): `{e, o}`, plus `pubs` only when publications newer
 * than `o` arrived while subscribing. With `since` (`outcome` is a history result): `rec` and the
 * replay in `pubs`, or `rec: false` and `why` (plus any newer live `pubs`).
 * `o` is always the offset of the last publication the subscriber will have received.
 */
export function subscribeAnswer(outcome: BrokerPosition | HistoryResult, held: readonly BrokerMessage[]): SubscribeResult {
  const replayed = 'ok' in outcome && outcome.ok ? outcome.publications : [];
  const { messages, offset } = mergeReplay(replayed, held, outcome.offset);
  const answer: SubscribeResult = { e: outcome.epoch, o: offset };
  if ('ok' in outcome) {
    answer.rec = outcome.ok;
    if (!outcome.ok) answer.why = outcome.why;
  }
  if (messages.length > 0 || answer.rec === true) answer.pubs = messages.map(publicationOf);
  return answer;
}
