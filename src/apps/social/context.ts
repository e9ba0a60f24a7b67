import type { FastifyRequest } from 'fastify';
import type { Kysely } from 'kysely';
import type { SessionStore } from '../../server/auth/sessions';
import type { TokenService } from '../../server/auth/tokens';
import type { TandemHttpApp } from '../../server/http/app';
import type { Hub } from '../../server/hub';
import type { ChannelStore } from '../../server/http/channel-page';
import type { Config } from '../../server/ops/config';
import type { CommitAnnouncer } from '../../server/store/channel-log';
import type { SocialDb } from './db';

/** What every route module of the social app needs. */
export interface SocialContext {
  app: TandemHttpApp;
  db: Kysely<SocialDb>;
  /** The store plus realtime epochs, for lists that have a channel. */
  store: ChannelStore<SocialDb>;
  /** The realtime hub (presence snapshots for REST). */
  hub: Hub;
  announcer: CommitAnnouncer;
  tokens: TokenService;
  sessions: SessionStore;
  config: Config;
  authenticate: (request: FastifyRequest) => Promise<void>;
}
