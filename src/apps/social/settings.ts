import { setting } from 'tandem/server';

/** The social app's own settings (the README's table lists them after the library's). */
export const socialSettings = {
  seed: setting.boolean('TANDEM_SEED', true, 'seed demo users, posts, comments and a conversation into an empty store'),
  webRoot: setting.string('TANDEM_WEB_ROOT', 'dist/web', 'the built web UI (`index.html` and `assets/`) served at `/`; a relative path is taken from the repository root'),
};
