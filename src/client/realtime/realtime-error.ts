/**
 * A failed realtime request or a refused subscription. `code` is the `c` of the server's `err`
 * frame (a code from docs/errors.md), or one of the client's own: `request_timeout`,
 * `connection_lost`, `not_connected`.
 */
export class RealtimeError extends Error {
  readonly code: string;

  constructor(code: string, message: string) {
    super(message);
    this.name = 'RealtimeError';
    this.code = code;
  }
}
