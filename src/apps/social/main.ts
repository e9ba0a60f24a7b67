import { serve } from 'tandem/server';
import { socialApp } from './app';
import { DEMO_PASSWORD, DEMO_USERS } from './seed';

/** `npm start`: the social app on the embedded store, with a graceful SIGTERM/SIGINT drain. */
await serve(socialApp, {
  onListening(server, url) {
    const logins = server.config.app.seed ? `Demo logins: ${DEMO_USERS.map((u) => u.username).join(', ')} with password "${DEMO_PASSWORD}"\n` : '';
    process.stdout.write(`\nTandem social: ${url}  (API docs: ${url}/api/docs)\n${logins}\n`);
  },
});
