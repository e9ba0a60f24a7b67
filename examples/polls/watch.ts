import { parseArgs } from 'node:util';
import WebSocket from 'ws';
import { RealtimeClient, TandemClientError } from 'tandem/client';
import { PollsClient, withTally, type Poll, type Tally } from './client';

/**
 * `npm run example:polls:watch -- <poll id> [--url http://localhost:3001]`: follows one poll in the
 * terminal. The REST snapshot first, then the live tallies from its position (the snapshot
 * handoff, one SDK call), and who else is watching. Signs up a throwaway watcher account, since
 * only signed-in users may subscribe.
 */
const { values, positionals } = parseArgs({ allowPositionals: true, options: { url: { type: 'string', default: 'http://localhost:3001' } } });
const pollId = Number(positionals[0]);
if (!Number.isInteger(pollId) || pollId < 1) {
  process.stderr.write('usage: npm run example:polls:watch -- <poll id> [--url http://localhost:3001]\n');
  process.exit(64);
}

const api = new PollsClient({ baseUrl: values.url });
await api.register({ username: `watcher_${Math.random().toString(36).slice(2, 10)}`, password: 'watching-only-123' });
const realtime = new RealtimeClient({ url: `${values.url.replace(/^http/, 'ws')}/realtime`, tokens: api.tokens, WebSocket: WebSocket as never });
let poll: Poll | undefined;

function render(): void {
  if (poll === undefined) return;
  const watching = follow.subscription?.presence.users?.map((u) => u.n).join(', ') ?? '';
  const lines = poll.options.map((o) => `  ${o.label.padEnd(20)} ${'#'.repeat(Math.min(o.votes, 60))} ${o.votes}`);
  process.stdout.write(`\n${poll.question}${poll.closed ? ' (closed)' : ''}  —  ${poll.totalVotes} votes, version ${poll.version}\n${lines.join('\n')}\n  watching: ${watching}\n`);
}

const follow = realtime.follow({
  load: async () => {
    const read = await api.readPoll(pollId);
    return { channel: read.channel, position: read.position, poll: read.body };
  },
  snapshot: (state) => {
    poll = state.poll;
    render();
  },
  message: (message) => {
    if (poll === undefined) return;
    if (message.event === 'poll.tally') poll = withTally(poll, message.data as Tally);
    if (message.event === 'poll.updated') poll = message.data as Poll;
    render();
  },
  failed: (error) => {
    process.stderr.write(`cannot follow poll ${pollId}: ${error instanceof TandemClientError ? error.code : String(error)}\n`);
    process.exit(1);
  },
});
realtime.on('state', ({ state, code }) => process.stderr.write(`[connection ${state}${code === undefined ? '' : ` ${code}`}]\n`));
realtime.connect();
if (await follow.start()) {
  follow.subscription?.on('presence', render);
  process.on('SIGINT', () => {
    follow.stop();
    realtime.disconnect();
    process.exit(0);
  });
}
