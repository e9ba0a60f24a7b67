import type { FastifyReply, FastifyRequest } from 'fastify';
import { TandemError } from '../errors';

/** Cache-Control by audience. Public data is shared-cacheable; per-user data is revalidated. */
export const cachePolicy = {
  /** A single public resource (a post, a profile). */
  publicItem: 'public, max-age=10, s-maxage=60, stale-while-revalidate=300',
  /** A public list that changes often (the feed, a post's comments). */
  publicList: 'public, max-age=0, s-maxage=5, stale-while-revalidate=30',
  /** Per-user data: never in a shared cache, always revalidated by the browser. */
  private: 'private, no-cache',
} as const;

export type CachePolicy = keyof typeof cachePolicy;

/** What an entity tag may contain between its quotes (RFC 9110 8.8.3, etagc, ASCII only). */
const ETAG_SAFE = /^[\x21\x23-\x7e]*$/;

/**
 * A strong entity tag from opaque parts, e.g. etag('post', 7, 'v3') -> "post.7.v3". A part with
 * anything an entity tag cannot hold (a quote, a space, a line break, non-ASCII) is percent-encoded.
 */
export function etag(...parts: Array<string | number>): string {
  return `"${parts.map((part) => (typeof part === 'number' || ETAG_SAFE.test(part) ? part : encodeURIComponent(part))).join('.')}"`;
}

function parseTagList(header: string): string[] {
  return header.split(',').map((t) => t.trim()).filter(Boolean);
}

function opaque(tag: string): string {
  return tag.startsWith('W/') ? tag.slice(2) : tag;
}

/** If-None-Match uses the weak comparison (RFC 9110 13.1.2). */
export function noneMatch(header: string | undefined, current: string): boolean {
  if (header === undefined) return true;
  if (header.trim() === '*') return false;
  const target = opaque(current);
  return !parseTagList(header).some((tag) => opaque(tag) === target);
}

/** If-Match uses the strong comparison (RFC 9110 13.1.1): weak tags never match. */
export function ifMatchSatisfied(header: string | undefined, current: string | undefined): boolean {
  if (header === undefined) return true;
  if (current === undefined) return false;
  if (header.trim() === '*') return true;
  return parseTagList(header).some((tag) => !tag.startsWith('W/') && tag === current);
}

/** Adds a field to Vary without dropping what CORS or others put there. */
function appendVary(reply: FastifyReply, field: string): void {
  const current = reply.getHeader('vary');
  const fields = typeof current === 'string' ? current.split(',').map((f) => f.trim()).filter(Boolean) : [];
  if (fields.some((f) => f === '*' || f.toLowerCase() === field.toLowerCase())) return;
  reply.header('vary', [...fields, field].join(', '));
}

export interface ConditionalGet<T> {
  /** The strong ETag of the representation, computed without building it. */
  etag: string;
  policy: CachePolicy;
  /** Builds the representation; only called when the client's copy is stale. */
  build: () => Promise<T> | T;
  /** Extra headers sent on both 200 and 304 (e.g. the channel position). */
  headers?: Record<string, string>;
}

/**
 * Answers a GET: 304 with no body when If-None-Match matches (the body is never built),
 * otherwise 200 with the built body. Both carry ETag, Cache-Control and Vary.
 */
export async function sendConditional<T>(request: FastifyRequest, reply: FastifyReply, spec: ConditionalGet<T>): Promise<T> {
  reply.header('etag', spec.etag).header('cache-control', cachePolicy[spec.policy]);
  if (spec.policy === 'private') appendVary(reply, 'Authorization');
  if (spec.headers !== undefined) reply.headers(spec.headers);
  if (!noneMatch(request.headers['if-none-match'], spec.etag)) {
    // Fastify treats a returned reply that was already sent as handled; T is a typing fiction here.
    return reply.code(304).send() as unknown as T;
  }
  return spec.build();
}

/** Throws precondition_failed when If-Match names another version; no header means no check. */
export function assertIfMatch(request: FastifyRequest, currentEtag: string): void {
  if (!ifMatchSatisfied(request.headers['if-match'], currentEtag)) {
    throw new TandemError('precondition_failed', `The current ETag is ${currentEtag}`, { headers: { etag: currentEtag } });
  }
}
