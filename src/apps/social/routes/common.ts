import { Type } from 'typebox';
import { ProblemSchema } from '../schemas';

const problemResponse = { description: 'An RFC 9457 problem with a stable `code` (docs/errors.md)', content: { 'application/problem+json': { schema: ProblemSchema } } };

/** OpenAPI entries for the problem+json answers a route can give. */
export function problems(...statuses: number[]): Record<number, typeof problemResponse> {
  return Object.fromEntries(statuses.map((s) => [s, problemResponse]));
}

export const NoContent = Type.Null({ description: 'No content' });
export const NotModified = Type.Null({ description: 'Not modified: your cached copy (If-None-Match) is current' });

export const IfMatchHeaders = Type.Object({
  'if-match': Type.Optional(Type.String({ description: 'The ETag you last saw; a stale one answers 412' })),
});
export const IdempotencyHeaders = Type.Object({
  'idempotency-key': Type.Optional(Type.String({ description: 'A unique key (e.g. a UUID) that makes retries of this create safe' })),
});
export const ConditionalHeaders = Type.Object({
  'if-none-match': Type.Optional(Type.String({ description: 'An ETag from an earlier answer; a current one answers 304' })),
});
