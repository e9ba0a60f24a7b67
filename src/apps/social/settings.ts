import { setting } from 'tandem/server';

/** The social app's own settings (the README's table lists them after the library's). */
export const socialSettings = {
  seed: setting.boolean('TANDEM_SEED', true, 'seed demo users, posts, comments and a conversation into an empty store'),
  webRoot: setting.string('TANDEM_WEB_ROOT', 'dist/web', 'the built web UI (`index.html` and `assets/`) served at `/`; a relative path is taken from the repository root'),
  // --- reactions ---
  reactionIntervalMs: setting.integer('TANDEM_REACTION_INTERVAL_MS', 100, { min: 10, max: 10_000 }, 'live reaction counts: at most one frame per channel per this many ms (a burst is coalesced)'),
  reactionPushEach: setting.boolean('TANDEM_REACTION_PUSH_EACH', false, 'push every reaction change as its own frame instead of coalescing (the benchmark\'s naive side; not for production)'),
  reactionRatePerMinute: setting.integer('TANDEM_REACTION_RATE', 120, { min: 1, max: 1_000_000 }, 'reaction changes per minute per user (all nodes together); over it: 429 rate_limited'),
  reactionBurst: setting.integer('TANDEM_REACTION_BURST', 30, { min: 1, max: 1_000_000 }, 'reaction changes a user may make at once before TANDEM_REACTION_RATE applies'),
};
