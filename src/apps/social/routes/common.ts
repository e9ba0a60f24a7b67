import { Type } from 'typebox';
import type { Kysely } from 'kysely';
import { etag } from '../../../server/http/caching';
import type { PageQuery } from '../../../server/http/pagination';
import { readPosition } from '../../../server/store/channel-log';
import type { ServerTables } from '../../../server/store/database';
import { ProblemSchema } from '../schemas';

/**
 * A list's channel position: it goes into the ETag (so a 304 costs one indexed lookup)
 * and into the Tandem-Channel / Tandem-Position headers (so a client can subscribe from it).
 */
export async function listSnapshot(db: Kysely<ServerTables>, channel: string, scope: string, query: PageQuery) {
  const position = await readPosition(db, channel);
  return {
    etag: etag(scope, position, `l${query.limit ?? 20}`, query.cursor ?? '-'),
    headers: { 'tandem-channel': channel, 'tandem-position': String(position) },
  };
}

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
