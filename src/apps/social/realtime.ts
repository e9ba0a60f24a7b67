import { randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Registry } from 'prom-client';
import { Type } from 'typebox';
import { Compile } from 'typebox/compile';
import type { SessionStore } from '../../server/auth/sessions';
import type { TokenService } from '../../server/auth/tokens';
import { MemoryBroker } from '../../server/broker';
import { Hub } from '../../server/hub';
import type { Config } from '../../server/ops/config';
import { RealtimeGateway } from '../../server/realtime/gateway';
import { RealtimeMetrics } from '../../server/realtime/metrics';
import type { RealtimeLimits } from '../../server/realtime/types';
import { readPosition, type CommitAnnouncer } from '../../server/store/channel-log';
import type { SocialDb } from './db';
import { isMember } from './repos/conversations';
import { postVersion } from './repos/posts';
import { findUserById } from './repos/users';

/** Typing indicators: `{on: true}` while typing, `{on: false}` when stopped. Never stored. */
const TypingData = Compile(Type.Object({ on: Type.Boolean() }, { additionalProperties: false }));

function idParam(param: string | undefined): number | undefined {
  if (param === undefined || !/^[1-9]\d{0,9}$/.test(param)) return undefined;
  const id = Number(param);
  return id <= 2_147_483_647 ? id : undefined;
}

/**
 * The social app's channels and who may use them. The gateway knows none of this: it asks the
 * hub, which asks these policies.
 *
 * - `feed`: new, edited and deleted posts; anyone signed in.
 * - `post:{id}`: a post's comments and edits; anyone signed in, while the post exists.
 * - `user:{id}`: that user's notifications and direct messages; only that user.
 * - `conversation:{id}`: messages, typing, presence; members only.
 * - `online`: global online status (presence only).
 */
export function defineSocialChannels(hub: Hub, db: Kysely<SocialDb>): void {
  hub.definePolicy('feed', { canSubscribe: (_user, _channel, param) => param === undefined });
  hub.definePolicy('post', {
    async canSubscribe(_user, _channel, param) {
      const id = idParam(param);
      return id !== undefined && (await postVersion(db, id)) !== undefined;
    },
  });
  hub.definePolicy('user', { canSubscribe: (user, _channel, param) => idParam(param) === user.id });
  hub.definePolicy('conversation', {
    async canSubscribe(user, _channel, param) {
      const id = idParam(param);
      return id !== undefined && (await isMember(db, id, user.id));
    },
    clientEvents: {
      typing: { validate: (data) => TypingData.Check(data), broadcast: (data, user) => ({ ...(data as object), by: { id: user.id, n: user.name } }) },
    },
    presence: 'users',
  });
  hub.definePolicy('online', { canSubscribe: (_user, _channel, param) => param === undefined, presence: 'users' });
}

export interface RealtimeParts {
  config: Config;
  db: Kysely<SocialDb>;
  tokens: TokenService;
  sessions: SessionStore;
  announcer: CommitAnnouncer;
  registry: Registry;
  log: ConstructorParameters<typeof RealtimeGateway>[0]['log'];
  options: { realtimeLimits?: Partial<RealtimeLimits>; realtimeTickMs?: number; clock?: () => number };
}

/**
 * The realtime half on the embedded default: the memory broker (history seeded with the store's
 * channel positions), the hub with the social channels, committed REST events published into it,
 * and the WebSocket gateway. The caller attaches the gateway to its HTTP server.
 */
export function createRealtime(parts: RealtimeParts): { broker: MemoryBroker; hub: Hub; gateway: RealtimeGateway } {
  const { config, db, options } = parts;
  const broker = new MemoryBroker({
    historyMaxCount: config.realtime.historyMaxCount,
    historyMaxAgeMs: config.realtime.historyMaxAgeMs,
    positionSource: (channel) => readPosition(db, channel),
    // Short epochs: they travel in every subscribe answer and recovery request.
    newEpoch: () => randomBytes(6).toString('base64url'),
  });
  const hub = new Hub({ broker, presenceGraceMs: config.realtime.presenceGraceMs, onError: (err) => parts.log.warn({ err }, 'hub delivery failed') });
  defineSocialChannels(hub, db);
  parts.announcer.on((events) => void hub.publishCommitted(events).catch((err: unknown) => parts.log.error({ err }, 'publishing committed events failed')));
  const gateway = new RealtimeGateway({
    hub,
    tokens: parts.tokens,
    sessions: parts.sessions,
    userName: async (id) => (await findUserById(db, id))?.username,
    allowedOrigins: config.corsOrigins,
    trustProxy: config.trustProxy,
    metrics: new RealtimeMetrics(parts.registry),
    log: parts.log,
    limits: {
      heartbeatIntervalMs: config.realtime.heartbeatIntervalMs,
      authTimeoutMs: config.realtime.authTimeoutMs,
      maxPayloadBytes: config.realtime.maxPayloadBytes,
      ...options.realtimeLimits,
    },
    ...(options.realtimeTickMs === undefined ? {} : { tickMs: options.realtimeTickMs }),
    ...(options.clock === undefined ? {} : { clock: options.clock }),
  });
  return { broker, hub, gateway };
}
