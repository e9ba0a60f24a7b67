/**
 * The social app's text limits, in characters (Unicode code points, as JSON Schema's maxLength
 * counts them). One place for both sides: the request schemas (schemas.ts) refuse what is longer,
 * and the web UI counts against the same numbers, so the counter and the server always agree.
 * Plain numbers with no imports: the web bundle takes this file as is.
 */
export const LIMITS = {
  post: 5000,
  comment: 2000,
  message: 4000,
  bio: 500,
  /** The account module's DisplayName (src/server/auth/accounts.ts) has the same bound. */
  displayName: 50,
} as const;

export type LimitName = keyof typeof LIMITS;
