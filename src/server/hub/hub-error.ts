import type { LibraryErrorCode } from '../errors';

/**
 * The hub's coded errors, a subset of the catalog (src/server/errors.ts), so the gateway can
 * answer each with an error frame `{t:'err', c: code}` and REST with problem+json.
 */
export type HubErrorCode = Extract<
  LibraryErrorCode,
  'unknown_channel' | 'forbidden' | 'too_many_subscriptions' | 'already_subscribed' | 'not_subscribed' | 'publish_forbidden' | 'invalid_payload' | 'unavailable'
>;

const messages: Record<HubErrorCode, string> = {
  unknown_channel: 'No such channel',
  forbidden: 'You may not subscribe to this channel',
  too_many_subscriptions: 'Too many subscriptions on this connection',
  already_subscribed: 'Already subscribed to this channel',
  not_subscribed: 'Not subscribed to this channel',
  publish_forbidden: 'Clients may not publish this event on this channel',
  invalid_payload: 'The event data is not valid for this channel',
  unavailable: 'The realtime hub is closed',
};

export class HubError extends Error {
  readonly code: HubErrorCode;

  constructor(code: HubErrorCode, message: string = messages[code]) {
    super(message);
    this.name = 'HubError';
    this.code = code;
  }
}
