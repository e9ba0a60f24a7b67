import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { RealtimeClient, RestClient, type ConnectionStateChange } from '../../src/client';
import { createServer, defineApp, loadConfig, type TandemServer } from '../../src/server';
import { until } from '../support/wait';

/**
 * A channel policy that throws (a store hiccup, an app bug) fails that one subscription, which the
 * client retries alone with backoff; the connection and the other subscriptions carry on.
 */

let failuresLeft = 0;
const flakyApp = defineApp({
  name: 'flaky',
  api: { title: 'flaky', version: '0', description: 'a policy that throws' },
  channels: {
    flaky: {
      description: 'A channel whose policy throws while failuresLeft > 0',
      canSubscribe: () => {
        if (failuresLeft > 0) {
          failuresLeft -= 1;
          throw new Error('the store hiccupped');
        }
        return true;
      },
    },
    steady: { description: 'A channel whose policy always answers' },
  },
});

let server: TandemServer;
let url: string;
let dir: string;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tandem-flaky-'));
  server = await createServer({ app: flakyApp, config: loadConfig({ TANDEM_DATA_DIR: dir, LOG_LEVEL: 'silent' }), logger: false });
  url = await server.listen({ port: 0, host: '127.0.0.1' });
});
afterAll(async () => {
  await server?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('a subscription the server failed to set up', () => {
  it('is retried alone with backoff until it holds; the connection and the other subscriptions stay up', async () => {
    const api = new RestClient({ baseUrl: url });
    await api.register({ username: 'flaky_user', password: 'correct horse battery' });
    const realtime = new RealtimeClient({ url: `${url.replace('http', 'ws')}/realtime`, tokens: api.tokens, WebSocket: WebSocket as never, backoff: { baseMs: 20, capMs: 100 } });
    const states: ConnectionStateChange[] = [];
    realtime.on('state', (change) => states.push(change));
    const steady = realtime.subscribe('steady', () => {});
    realtime.connect();
    await until(() => steady.state === 'live', 'the steady subscription');
    failuresLeft = 3;
    const flaky = realtime.subscribe('flaky', () => {});
    await until(() => flaky.state === 'live', 'the flaky subscription after its retries', 5_000);
    expect(failuresLeft).toBe(0);
    expect(states.map((s) => s.state)).toEqual(['connecting', 'open']);
    expect(steady.state).toBe('live');
    expect(server.stats().subscriptions).toBe(2);
    realtime.disconnect();
  });
});
