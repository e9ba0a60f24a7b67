import { libraryErrors, type LibraryErrorCode } from '../errors';

/**
 * The hub's coded errors, a subset of the catalog (src/protocol/errors.ts), so the gateway can
 * answer each with an error frame `{t:'err', c: code}` and REST with problem+json. The message
 * defaults to the catalog's title.
 */
export type HubErrorCode = Extract<
  LibraryErrorCode,
  'unknown_channel' | 'forbidden' | 'too_many_subscriptions' | 'already_subscribed' | 'not_subscribed' | 'publish_forbidden' | 'invalid_payload' | 'unavailable'
>;

export class HubError extends Error {
  readonly code: HubErrorCode;

  constructor(code: HubErrorCode, message: string = libraryErrors[code].title, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'HubError';
    this.code = code;
  }
}
