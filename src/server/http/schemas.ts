import { Type, type TSchema } from 'typebox';

/**
 * Schemas every Tandem API shares: the problem body, pages, the request headers of conditional
 * and idempotent requests, and the response headers the REST conventions send, declared so that
 * the OpenAPI document says exactly what arrives (a client author reads `Tandem-Epoch` there).
 */

export const ProblemSchema = Type.Object(
  {
    type: Type.String(),
    title: Type.String(),
    status: Type.Integer(),
    code: Type.String({ description: 'Stable machine-readable code (docs/errors.md)' }),
    detail: Type.Optional(Type.String()),
    instance: Type.Optional(Type.String()),
    errors: Type.Optional(Type.Array(Type.Object({
      field: Type.String(),
      message: Type.String(),
      keyword: Type.Optional(Type.String({ description: 'The JSON Schema keyword that failed: minLength, maxLength, pattern, required, type, …' })),
      limit: Type.Optional(Type.Number({ description: "That keyword's bound, where it has one" })),
    }))),
  },
  { title: 'Problem', description: 'RFC 9457 problem details with a stable machine-readable code' },
);

/** Response headers, by name, with what they mean. */
export const ResponseHeader = {
  etag: Type.String({ description: 'Strong entity tag: send it in If-None-Match to revalidate (304), or in If-Match to write only over this version (412 otherwise)' }),
  cacheControl: Type.String({ description: 'Who may cache this and for how long (public data: shared caches; per-user data: private, no-cache)' }),
  vary: Type.String({ description: 'Authorization, on per-user answers' }),
  channel: Type.String({ description: 'The realtime channel this list follows (e.g. post:42)' }),
  epoch: Type.String({ description: "The channel stream's epoch: subscribe with since = {e: Tandem-Epoch, o: Tandem-Position} to get exactly the changes after this answer" }),
  position: Type.String({ description: 'The offset of the newest change this answer includes, in the channel (decimal)' }),
  link: Type.String({ description: 'RFC 8288 link to the next page (rel="next"), when there is one' }),
  location: Type.String({ description: 'Where the created resource is' }),
  idempotentReplayed: Type.String({ description: '"true" when this is the stored answer to an earlier request with the same Idempotency-Key' }),
  retryAfter: Type.String({ description: 'Seconds to wait before trying again' }),
  wwwAuthenticate: Type.String({ description: 'Bearer challenge; error="invalid_token" means: refresh the token and retry' }),
} as const;

const conditional = { etag: ResponseHeader.etag, 'cache-control': ResponseHeader.cacheControl };
const channelHeaders = { 'tandem-channel': ResponseHeader.channel, 'tandem-epoch': ResponseHeader.epoch, 'tandem-position': ResponseHeader.position };

/** A copy of `schema` that also documents the response headers sent with it (OpenAPI only; validation and serialization are unchanged). */
export function withHeaders<T extends TSchema>(schema: T, headers: Record<string, TSchema>): T {
  return { ...schema, headers } as T;
}

/**
 * A conditional GET's 200: the representation with its ETag and Cache-Control, plus the channel
 * position when it has a channel (sendItem, sendList).
 */
export function Cached<T extends TSchema>(schema: T, options: { channel?: boolean } = {}): T {
  return withHeaders(schema, options.channel === true ? { ...conditional, ...channelHeaders } : conditional);
}

/** A list's 200 (sendList): a page with its ETag, Cache-Control, channel position and next-page Link. */
export function CachedList<T extends TSchema>(schema: T): T {
  return withHeaders(schema, { ...conditional, ...channelHeaders, link: ResponseHeader.link });
}

/** A page of a list: the items and the cursor of the next page (null on the last). */
export function Page<T extends TSchema>(item: T) {
  return Type.Object({ items: Type.Array(item), nextCursor: Type.Union([Type.String(), Type.Null()]) });
}

export const NoContent = Type.Null({ description: 'No content' });
export const NotModified = withHeaders(Type.Null({ description: 'Not modified: your cached copy (If-None-Match) is current' }), conditional);
/** The 304 of something that has a channel (sendItem, sendList): the current position comes with it. */
export const NotModifiedWithPosition = withHeaders(Type.Null({ description: 'Not modified: your cached copy (If-None-Match) is current; the channel position is current too' }), { ...conditional, ...channelHeaders });

/** Headers of a problem answer by status, where the conventions send one. */
const PROBLEM_HEADERS: Record<number, Record<string, TSchema>> = {
  401: { 'www-authenticate': ResponseHeader.wwwAuthenticate },
  409: { 'retry-after': ResponseHeader.retryAfter },
  412: { etag: ResponseHeader.etag },
  429: { 'retry-after': ResponseHeader.retryAfter },
  503: { 'retry-after': ResponseHeader.retryAfter },
};

function problemResponse(status: number) {
  const headers = PROBLEM_HEADERS[status];
  return {
    description: 'An RFC 9457 problem with a stable `code` (docs/errors.md)',
    content: { 'application/problem+json': { schema: ProblemSchema } },
    ...(headers === undefined ? {} : { headers }),
  };
}

/** OpenAPI entries for the problem+json answers a route can give. */
export function problems(...statuses: number[]): Record<number, ReturnType<typeof problemResponse>> {
  return Object.fromEntries(statuses.map((s) => [s, problemResponse(s)]));
}

export const IfMatchHeaders = Type.Object({
  'if-match': Type.Optional(Type.String({ description: 'The ETag you last saw; a stale one answers 412' })),
});
export const IdempotencyHeaders = Type.Object({
  'idempotency-key': Type.Optional(Type.String({ description: 'A unique key (e.g. a UUID) that makes retries of this create safe' })),
});
export const ConditionalHeaders = Type.Object({
  'if-none-match': Type.Optional(Type.String({ description: 'An ETag from an earlier answer; a current one answers 304' })),
});

/** A create's 201 (or a replay of it): the resource, where it is, and whether this is a replay. */
export function Created<T extends TSchema>(schema: T, options: { location?: boolean; etag?: boolean } = {}): T {
  return withHeaders(schema, {
    ...(options.location === true ? { location: ResponseHeader.location } : {}),
    ...(options.etag === true ? { etag: ResponseHeader.etag } : {}),
    'idempotent-replayed': ResponseHeader.idempotentReplayed,
  });
}

/** A write's 200 with the new ETag (for the next If-Match). */
export function Written<T extends TSchema>(schema: T): T {
  return withHeaders(schema, { etag: ResponseHeader.etag });
}
