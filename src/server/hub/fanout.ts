import type { BrokerMessage } from '../broker/broker';
import { publicationFrame } from './frames-out';
import type { Subscription } from './subscription';

/**
 * Delivers one broker message to a channel's local subscriptions: serialized once (lazily, so a
 * channel with nobody live costs nothing), one send per live subscription except the sender of
 * a client publish; recovering subscriptions hold it for their answer instead.
 * A send that throws is reported and does not stop the others.
 */
export function deliverPublication(subscriptions: ReadonlySet<Subscription>, message: BrokerMessage, onError: (error: unknown) => void): void {
  const kind = message.offset === undefined ? 'ephemeral' : 'durable';
  let frame: string | undefined;
  for (const subscription of subscriptions) {
    if (subscription.state !== 'live') {
      subscription.hold(message);
      continue;
    }
    if (message.from !== undefined && subscription.subscriber.id === message.from) continue;
    // Already in the subscriber's replay (see Subscription.advance), or older than its position.
    if (message.offset !== undefined && !subscription.advance(message.offset)) continue;
    if (frame === undefined) {
      try {
        frame = publicationFrame(message);
      } catch (error) {
        onError(error);
        return;
      }
    }
    send(subscription, frame, kind, onError);
  }
}

/** Sends one frame to every live subscription of a channel (presence join/leave). */
export function sendToLive(subscriptions: ReadonlySet<Subscription>, frame: string, onError: (error: unknown) => void): void {
  for (const subscription of subscriptions) {
    if (subscription.state === 'live') send(subscription, frame, 'durable', onError);
  }
}

function send(subscription: Subscription, frame: string, kind: 'durable' | 'ephemeral', onError: (error: unknown) => void): void {
  try {
    subscription.subscriber.send(frame, kind);
  } catch (error) {
    onError(error);
  }
}
