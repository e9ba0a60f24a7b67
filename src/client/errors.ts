import type { Problem } from '../protocol/problem';

export type { Problem };

/** Codes the client makes up itself, when no server answer carried one. */
export type ClientErrorCode = 'network_error' | 'timeout' | 'aborted' | 'invalid_response' | 'signed_out';

export interface TandemClientErrorInit {
  status?: number;
  problem?: Problem;
  retryAfterMs?: number;
  cause?: unknown;
}

/**
 * Every failure the SDK reports: a server problem (its `code`, `status` and body) or a client
 * one (`network_error`, `timeout`, `aborted`, `invalid_response`, `signed_out`; no status). Branch on `code`,
 * never on `message`.
 *
 * @example
 * try { await client.getPost(7) } catch (e) { if (e instanceof TandemClientError && e.code === 'not_found') ... }
 */
export class TandemClientError extends Error {
  /** The problem's code, or one of ClientErrorCode. */
  readonly code: string;
  /** The HTTP status; undefined when no answer arrived. */
  readonly status: number | undefined;
  /** The problem+json body, when the server sent one. */
  readonly problem: Problem | undefined;
  /** From Retry-After (429, some 503s and 409 idempotency_in_progress), in ms. */
  readonly retryAfterMs: number | undefined;

  constructor(code: string, message: string, init: TandemClientErrorInit = {}) {
    super(message, init.cause === undefined ? undefined : { cause: init.cause });
    this.name = 'TandemClientError';
    this.code = code;
    this.status = init.status;
    this.problem = init.problem;
    this.retryAfterMs = init.retryAfterMs;
  }
}

/**
 * Retry-After as ms: delta-seconds or an HTTP-date (RFC 9110 10.2.3); undefined when absent or
 * unreadable. A date in the past is 0.
 */
export function parseRetryAfter(header: string | null, now: number): number | undefined {
  if (header === null) return undefined;
  const text = header.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const date = Date.parse(text);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

function isProblem(value: unknown): value is Problem {
  if (value === null || typeof value !== 'object') return false;
  const candidate = value as Record<string, unknown>;
  return typeof candidate.code === 'string' && typeof candidate.status === 'number';
}

/** The error for a non-2xx answer: its problem's code, or `http_<status>` when the body is not a problem. */
export function errorFromResponse(status: number, headers: Headers, text: string, now: number): TandemClientError {
  const retryAfterMs = parseRetryAfter(headers.get('retry-after'), now);
  let body: unknown;
  try {
    body = JSON.parse(text) as unknown;
  } catch {
    body = undefined;
  }
  if (isProblem(body)) {
    const message = body.detail === undefined ? body.title : `${body.title}: ${body.detail}`;
    return new TandemClientError(body.code, message, { status, problem: body, retryAfterMs });
  }
  return new TandemClientError(`http_${status}`, `HTTP ${status} without a problem body`, { status, retryAfterMs });
}
