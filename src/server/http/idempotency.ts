import { createHash } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Kysely, Transaction } from 'kysely';
import { TandemError } from '../errors';
import { inTransaction, type ChannelLog, type CommitAnnouncer } from '../store/channel-log';
import { nowIso, type TandemTables } from '../store/database';

/** What a create handler answers; stored as-is so a retry gets the same answer. */
export interface StoredResponse<T = unknown> {
  status: number;
  body: T;
  headers?: Record<string, string>;
}

const KEY_PATTERN = /^[A-Za-z0-9._:-]{8,255}$/;
const IDEMPOTENCY_TTL_MS = 24 * 60 * 60 * 1000;

/** The Idempotency-Key header, validated; undefined when absent. */
export function idempotencyKeyOf(request: FastifyRequest): string | undefined {
  const raw = request.headers['idempotency-key'];
  if (raw === undefined) return undefined;
  if (typeof raw !== 'string' || !KEY_PATTERN.test(raw)) {
    throw new TandemError('invalid_idempotency_key', 'Use 8-255 characters from A-Z a-z 0-9 . _ : - (a UUID is ideal)');
  }
  return raw;
}

/** JSON with object keys sorted, so `{a, b}` and `{b, a}` are the same request. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value ?? null);
}

/**
 * What makes two requests "the same": the route and its parsed params, query and body, so a
 * retry that re-serializes the JSON in another key order (or adds a trailing slash) still matches.
 */
function fingerprint(request: FastifyRequest): string {
  const route = request.routeOptions.url ?? request.url;
  const parts = canonicalJson({ params: request.params ?? null, query: request.query ?? null, body: request.body ?? null });
  return createHash('sha256').update(`${request.method} ${route}\n${parts}`).digest('base64url');
}

/**
 * Runs a create at most once per (scope, Idempotency-Key). The key is claimed in the same
 * transaction as the write, so a crash leaves neither, and concurrent retries serialize on the
 * key's primary key: the second waits for the first to commit, then replays its response.
 * The same key with a different request is refused with idempotency_key_reused (422).
 */
export async function runIdempotent<DB extends TandemTables, T>(
  db: Kysely<DB>,
  announcer: CommitAnnouncer,
  request: FastifyRequest,
  scope: string,
  work: (trx: Transaction<DB>, log: ChannelLog) => Promise<StoredResponse<T>>,
  clock: () => number = Date.now,
): Promise<StoredResponse<T> & { replayed: boolean }> {
  const key = idempotencyKeyOf(request);
  if (key === undefined) return { ...(await inTransaction(db, announcer, work)), replayed: false };
  const requestHash = fingerprint(request);
  return inTransaction(db, announcer, async (trx, log) => {
    const keys = trx as unknown as Transaction<TandemTables>;
    const claim = async () => {
      const result = await keys
        .insertInto('idempotency_keys')
        .values({ scope, key, request_hash: requestHash, status_code: null, response_body: null, response_headers: null, created_at: nowIso(clock) })
        .onConflict((oc) => oc.columns(['scope', 'key']).doNothing())
        .executeTakeFirst();
      return Number(result.numInsertedOrUpdatedRows ?? 0n) === 1;
    };
    // A key past its retention is forgotten here, not only by the hourly sweep.
    const claimed = (await claim()) || ((await forgetExpired(keys, scope, key, clock())) && (await claim()));
    if (!claimed) return replay<T>(keys, scope, key, requestHash);
    const response = await work(trx, log);
    await keys
      .updateTable('idempotency_keys')
      .set({ status_code: response.status, response_body: JSON.stringify(response.body), response_headers: JSON.stringify(response.headers ?? {}) })
      .where('scope', '=', scope)
      .where('key', '=', key)
      .execute();
    return { ...response, replayed: false };
  });
}

async function forgetExpired(trx: Transaction<TandemTables>, scope: string, key: string, now: number): Promise<boolean> {
  const cutoff = new Date(now - IDEMPOTENCY_TTL_MS).toISOString();
  const result = await trx.deleteFrom('idempotency_keys').where('scope', '=', scope).where('key', '=', key).where('created_at', '<', cutoff).executeTakeFirst();
  return Number(result.numDeletedRows) > 0;
}

async function replay<T>(trx: Transaction<TandemTables>, scope: string, key: string, requestHash: string): Promise<StoredResponse<T> & { replayed: boolean }> {
  const row = await trx.selectFrom('idempotency_keys').selectAll().where('scope', '=', scope).where('key', '=', key).executeTakeFirstOrThrow();
  if (row.request_hash !== requestHash) throw new TandemError('idempotency_key_reused');
  if (row.status_code === null || row.response_body === null) throw new TandemError('idempotency_in_progress', undefined, { headers: { 'retry-after': '1' } });
  return {
    status: Number(row.status_code),
    body: JSON.parse(row.response_body) as T,
    headers: JSON.parse(row.response_headers ?? '{}') as Record<string, string>,
    replayed: true,
  };
}

/** Sends a stored response, marking replays with `Idempotent-Replayed: true`. */
export function sendStored<T>(reply: FastifyReply, response: StoredResponse<T> & { replayed: boolean }): T {
  if (response.headers !== undefined) reply.headers(response.headers);
  if (response.replayed) reply.header('idempotent-replayed', 'true');
  reply.code(response.status);
  return response.body;
}

/** Deletes keys older than the retention window; returns how many were removed. */
export async function sweepIdempotencyKeys(db: Kysely<TandemTables>, now = Date.now()): Promise<number> {
  const result = await db.deleteFrom('idempotency_keys').where('created_at', '<', new Date(now - IDEMPOTENCY_TTL_MS).toISOString()).executeTakeFirst();
  return Number(result.numDeletedRows);
}
