import { defineApp } from 'tandem/server';
import type { SocialDb } from './db';
import { socialMigrations } from './migrations';
import { socialErrors } from './errors';
import { socialChannels } from './realtime';
import { findUserById, toPublicUser } from './repos/users';
import { registerAvatarRoutes } from './routes/avatars';
import { registerConversationRoutes } from './routes/conversations';
import { registerNotificationRoutes } from './routes/notifications';
import { registerCommentRoutes } from './routes/comments';
import { registerPostRoutes } from './routes/posts';
import { registerPresenceRoutes } from './routes/presence';
import { registerReactionRoutes } from './routes/reactions';
import { registerSearchRoutes } from './routes/search';
import { registerUserRoutes } from './routes/users';
import { PublicUser } from './schemas';
import { seedDemoData } from './seed';
import { socialSettings } from './settings';
import { installWebUi } from './web';

/**
 * The social reference app: profiles, posts, threaded comments, direct messages, notifications and
 * presence, declared on the public toolkit API (tandem/server) like any app built on Tandem.
 */
export const socialApp = defineApp<SocialDb, typeof socialSettings>({
  name: 'social',
  api: {
    title: 'Tandem social API',
    version: '1.0.0',
    description: 'REST half of the Tandem reference app. Every GET carries a strong ETag; lists that have a realtime channel report its position in Tandem-Channel / Tandem-Epoch / Tandem-Position.',
  },
  migrations: socialMigrations,
  settings: socialSettings,
  channels: socialChannels,
  errors: socialErrors,
  // Token answers carry the social profile (with its bio), as GET /api/me does.
  accounts: { profile: { schema: PublicUser, read: async (db, id) => { const row = await findUserById(db, id); return row && toPublicUser(row); } } },
  routes(app, ctx) {
    registerUserRoutes(app, ctx);
    registerAvatarRoutes(app, ctx);
    registerPostRoutes(app, ctx);
    registerCommentRoutes(app, ctx);
    registerConversationRoutes(app, ctx);
    registerNotificationRoutes(app, ctx);
    registerPresenceRoutes(app, ctx);
    registerReactionRoutes(app, ctx);
    registerSearchRoutes(app, ctx);
    if (!installWebUi(app, ctx.config.app.webRoot)) ctx.log.warn({ webRoot: ctx.config.app.webRoot }, 'the web UI is not built (npm run build:web); / explains how');
  },
  async onStart(ctx) {
    if (ctx.config.app.seed && (await seedDemoData(ctx))) ctx.log.info('seeded demo data into the empty store');
  },
});
