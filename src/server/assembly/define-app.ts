import type { AccountOptions } from '../auth/account-routes';
import type { SettingsOf, SettingsSpec } from '../config/settings';
import type { ErrorCatalog } from '../errors';
import type { TandemHttpApp } from '../http/app';
import type { PortableMigration } from '../store/migrate';
import type { TandemTables } from '../store/database';
import type { ChannelDefinitions } from './channels';
import type { TandemContext } from './context';

/**
 * Everything an app declares; the library does the rest, in a fixed order: read the settings,
 * open the store and run the library's migrations then the app's, open auth and the realtime hub
 * with the app's channels, install the HTTP conventions, the account routes, the app's routes,
 * health, metrics and the API documents, run `onStart`, and on close drain the sockets, stop the
 * sweepers and close the hub, broker and store, in that order.
 *
 * `DB` is the app's Kysely database type (its tables and the library's: `TandemTables & MyTables`);
 * `S` its settings declaration (`typeof mySettings`).
 */
export interface AppDefinition<DB extends TandemTables = TandemTables, S extends SettingsSpec = Record<never, never>> {
  /** A short name, for logs. */
  name: string;
  /** The OpenAPI document's info (served at /api/openapi.json, browsable at /api/docs). */
  api: { title: string; version: string; description: string };
  /**
   * The app's migrations, run after the library's, in name order. Never rename or reuse a name:
   * a store remembers which ran. Names of the library's start with 0; start yours with 1.
   */
  migrations?: readonly PortableMigration[];
  /** The app's own settings from the environment, validated with the library's (`ctx.config.app`). */
  settings?: S;
  /** The app's error codes (defineErrors): answered and documented like the library's. */
  errors?: ErrorCatalog;
  /** The app's channels, by prefix, and who may use them. */
  channels?: ChannelDefinitions<TandemContext<DB, SettingsOf<S>>>;
  /** The account module (register, login, refresh, logout); `false` leaves accounts to the app. */
  accounts?: AccountOptions<DB> | false;
  /** Registers the app's routes. Called once, after the library's conventions are installed. */
  routes?(app: TandemHttpApp, ctx: TandemContext<DB, SettingsOf<S>>): void | Promise<void>;
  /** Runs after the store is migrated and before the server answers (e.g. seed demo data). */
  onStart?(ctx: TandemContext<DB, SettingsOf<S>>): void | Promise<void>;
}

/**
 * Declares an app (a typed identity function: the declaration is data the library assembles).
 *
 * @example
 *   export const pollsApp = defineApp<PollsDb, typeof pollSettings>({
 *     name: 'polls',
 *     api: { title: 'Polls', version: '1.0.0', description: 'Live polls' },
 *     migrations: pollMigrations,
 *     settings: pollSettings,
 *     errors: pollErrors,
 *     channels: { poll: { description: 'One poll', param: 'id', presence: 'users' } },
 *     routes: pollRoutes,
 *   });
 */
export function defineApp<DB extends TandemTables = TandemTables, S extends SettingsSpec = Record<never, never>>(definition: AppDefinition<DB, S>): AppDefinition<DB, S> {
  return definition;
}
