import type { PresenceUser, Publication } from '../../protocol/frames';
import type { BrokerMessage } from '../broker/broker';

/**
 * Server frames the hub fans out, serialized once per event and shared by every recipient.
 * Built by concatenation so the key order is fixed (t, ch, o, ev, d) and no frame object is
 * allocated on the hot path. Throws what JSON.stringify throws (BigInt, cycles) for bad data.
 */
export function publicationFrame(message: BrokerMessage): string {
  const offset = message.offset === undefined ? '' : `,"o":${message.offset}`;
  const data = JSON.stringify(message.data);
  return `{"t":"pub","ch":${JSON.stringify(message.channel)}${offset},"ev":${JSON.stringify(message.event)}${data === undefined ? '' : `,"d":${data}`}}`;
}

/** The publication as a value, for the `pubs` of a subscribe answer (same key order). */
export function publicationOf(message: BrokerMessage): Publication {
  return message.offset === undefined
    ? { t: 'pub', ch: message.channel, ev: message.event, d: message.data }
    : { t: 'pub', ch: message.channel, o: message.offset, ev: message.event, d: message.data };
}

export function presenceFrame(kind: 'join' | 'leave', channel: string, user: PresenceUser): string {
  return `{"t":"${kind}","ch":${JSON.stringify(channel)},"u":{"id":${JSON.stringify(user.id)},"n":${JSON.stringify(user.n)}}}`;
}
