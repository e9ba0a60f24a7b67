import { serve } from 'tandem/server';
import { pollsApp } from './app';

/**
 * `npm run example:polls`: the polls app on http://localhost:3001 with its own store in ./data/polls
 * (PORT and TANDEM_DATA_DIR override them, like every setting).
 */
await serve(pollsApp, {
  env: { PORT: '3001', TANDEM_DATA_DIR: './data/polls', ...process.env },
  onListening(_server, url) {
    process.stdout.write(`\nTandem polls: ${url}  (API docs: ${url}/api/docs)\nWatch a poll live: npm run example:polls:watch -- <poll id>\n\n`);
  },
});
