/**
 * An RFC 9457 problem as Tandem answers it (`application/problem+json`, docs/errors.md): `code`
 * is the stable part, which clients branch on. A type only, with no runtime code, so the client
 * SDK reads it without loading the server's schemas.
 */
export interface Problem {
  /** A URI reference naming the problem type. */
  type: string;
  /** A short summary for people; not for branching. */
  title: string;
  /** The HTTP status of the answer. */
  status: number;
  /** The stable machine-readable code from the error catalog. */
  code: string;
  /** What went wrong this time, for people. */
  detail?: string;
  /** The request the problem is about. */
  instance?: string;
  /**
   * For validation_failed: each field at fault and why. `keyword` is the JSON Schema keyword that
   * failed (minLength, maxLength, pattern, required, type, …) and `limit` its bound where it has
   * one, so a client can word its own sentence instead of showing `message`.
   */
  errors?: Array<{ field: string; message: string; keyword?: string; limit?: number }>;
  /** Extension members (RFC 9457 section 3.2), e.g. a realtime `close`. */
  [member: string]: unknown;
}
