/**
 * `tandem/server`: build a hybrid REST + realtime app. Declare the app (defineApp): its tables and
 * migrations, settings, error codes, channels and routes. Then serve it (`serve`, an app's main),
 * build it (`createServer`, for tests and tools), or mount it on a Fastify app of your own (`tandem`).
 * docs/toolkit.md is the guide; examples/polls is a whole app in one sitting.
 */

// An app and its server
export { defineApp, type AppDefinition } from './assembly/define-app';
export { createServer, type CreateServerOptions, type TandemServer } from './assembly/create-server';
export { serve, type ServeOptions } from './assembly/serve';
export { tandem, type TandemPluginOptions } from './assembly/plugin';
export type { IssuedTokens, TandemContext } from './assembly/context';
export type { ChannelDefinition, ChannelDefinitions, ClientEventDefinition, EventDefinition } from './assembly/channels';
export { fastifyOptions, type TandemHttpApp } from './http/app';

// Configuration
export { loadConfig, type TandemConfig } from './config/config';
export { ConfigError, setting, type Setting, type SettingsOf, type SettingsSpec } from './config/settings';

// Errors
export { defineErrors, TandemError, type ErrorCatalog, type ErrorSpec, type FieldError, type LibraryErrorCode, type TandemErrorOptions } from './errors';

// REST conventions
export { assertIfMatch, cachePolicy, etag, noneMatch, sendConditional, type CachePolicy, type ConditionalGet } from './http/caching';
export type { ChannelItemSpec, ChannelPageSpec } from './http/channel-page';
export { idempotencyKeyOf, type StoredResponse } from './http/idempotency';
export { PageQuery } from './http/pagination';
export {
  Cached, CachedList, ConditionalHeaders, Created, IdempotencyHeaders, IfMatchHeaders, NoContent, NotModified, NotModifiedWithPosition,
  Page, ProblemSchema, problems, ResponseHeader, withHeaders, Written,
} from './http/schemas';
export { installStaticSite, type StaticSiteOptions } from './http/static-site';

// Accounts
export { claimsOf } from './auth/authenticate';
export type { AccessClaims } from './auth/tokens';
export type { AccountOptions } from './auth/account-routes';
export { AccountSchema, createAccount, DisplayName, normalizeUsername, Password, Username, type Account, type AccountRow, type NewAccount } from './auth/accounts';
export { hashPassword } from './auth/passwords';

// Store
export type { ChannelLog } from './store/channel-log';
export { nowIso, type Dialect, type TandemTables } from './store/database';
export { withSerialId, type PortableMigration } from './store/migrate';
export { ReadById } from './store/read-by-id';

// Realtime types an app's channel policies see
export type { HubUser } from './hub';
export type { PresenceUser, StreamPosition } from '../protocol/frames';
