import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Fastify from 'fastify';
import { afterAll, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { RealtimeClient, RestClient } from '../src/client';
import { createServer, defineApp, fastifyOptions, loadConfig, tandem, type TandemContext } from '../src/server';
import { until } from './support/wait';

/** The public server API's own behaviour, with a small app of its own (not the social app). */

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
});

function config(env: Record<string, string> = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tandem-toolkit-'));
  dirs.push(dir);
  return loadConfig({ TANDEM_DATA_DIR: dir, LOG_LEVEL: 'silent', ...env });
}

let context: TandemContext | undefined;
const tinyApp = defineApp({
  name: 'tiny',
  api: { title: 'tiny', version: '0', description: 'the toolkit tests' },
  channels: { room: { description: 'A room', param: 'id' } },
  routes(_app, ctx) {
    context = ctx;
  },
});

describe('the tandem plugin on a Fastify app the user owns', () => {
  it('leaves the app\'s own WebSocket endpoints alone', async () => {
    const cfg = config();
    const own = Fastify(fastifyOptions(cfg, false));
    const chat = new WebSocketServer({ noServer: true });
    own.server.on('upgrade', (request, socket, head) => {
      if (request.url === '/chat') chat.handleUpgrade(request, socket, head, (ws) => ws.send('hello from /chat'));
    });
    await own.register(tandem, { app: tinyApp, config: cfg });
    await own.listen({ port: 0, host: '127.0.0.1' });
    const port = (own.server.address() as { port: number }).port;
    try {
      const greeting = await new Promise<string>((resolve, reject) => {
        const ws = new WebSocket(`ws://127.0.0.1:${port}/chat`);
        ws.once('message', (data) => {
          resolve(String(data));
          ws.close();
        });
        ws.once('error', reject);
      });
      expect(greeting).toBe('hello from /chat');
      // Tandem's own endpoint still answers on the same server.
      const tandemSocket = new WebSocket(`ws://127.0.0.1:${port}/realtime`, 'tandem.v1');
      await new Promise((resolve, reject) => tandemSocket.once('open', resolve).once('error', reject));
      tandemSocket.close();
    } finally {
      chat.close();
      await own.close();
    }
  });

  it('refuses a prefix and a second registration with a clear error', async () => {
    const cfg = config();
    const prefixed = Fastify(fastifyOptions(cfg, false));
    const underPrefix = prefixed.register(async (child) => {
      await child.register(tandem, { app: tinyApp, config: cfg });
    }, { prefix: '/v1' });
    await expect(underPrefix.ready()).rejects.toThrow(/without a prefix/);
    await prefixed.close();
    const twice = Fastify(fastifyOptions(cfg, false));
    await twice.register(tandem, { app: tinyApp, config: cfg });
    await expect(twice.register(tandem, { app: tinyApp, config: cfg }).ready()).rejects.toThrow(/already registered/);
    await twice.close();
  });

  it('takes a start longer than avvio\'s 10 s plugin timeout (fastifyOptions turns it off)', () => {
    expect(fastifyOptions(config()).pluginTimeout).toBe(0);
  });
});

describe('createServer', () => {
  it('a failed start rejects and releases what it opened', async () => {
    const failing = defineApp({ name: 'failing', api: tinyApp.api, async onStart() { throw new Error('seed failed'); } });
    await expect(createServer({ app: failing, config: config(), logger: false })).rejects.toThrow('seed failed');
  });

  it('refuses an app setting that reuses a library variable', () => {
    expect(() => loadConfig({}, { port: { env: 'PORT', doc: '', shown: '', read: () => 1 } })).toThrow(/PORT is one of the library's/);
  });

  it('/metrics answers only the metrics token when one is set', async () => {
    const server = await createServer({ app: tinyApp, config: config({ TANDEM_METRICS_TOKEN: 'a-long-scraper-token' }), logger: false });
    const url = await server.listen({ port: 0, host: '127.0.0.1' });
    try {
      expect((await fetch(`${url}/metrics`)).status).toBe(401);
      expect((await fetch(`${url}/metrics`, { headers: { authorization: 'Bearer wrong-token-entirely' } })).status).toBe(401);
      const scraped = await fetch(`${url}/metrics`, { headers: { authorization: 'Bearer a-long-scraper-token' } });
      expect(scraped.status).toBe(200);
      expect(await scraped.text()).toContain('tandem_ws_connections');
    } finally {
      await server.close();
    }
  });
});

describe('the context', () => {
  it('revokeSessions ends every session of a user but the one kept, tokens and sockets alike', async () => {
    const server = await createServer({ app: tinyApp, config: config(), logger: false });
    const url = await server.listen({ port: 0, host: '127.0.0.1' });
    try {
      const phone = new RestClient({ baseUrl: url });
      const session = await phone.register({ username: 'many_devices', password: 'correct horse battery' });
      const laptop = new RestClient({ baseUrl: url });
      await laptop.login({ username: 'many_devices', password: 'correct horse battery' });
      const live = new RealtimeClient({ url: `${url.replace('http', 'ws')}/realtime`, tokens: laptop.tokens, WebSocket: WebSocket as never });
      const closes: number[] = [];
      live.on('state', ({ state, code }) => state === 'closed' && code !== undefined && closes.push(code));
      live.connect();
      await until(() => live.state === 'open', 'the laptop connected');
      const userId = (session.user as { id: number }).id;
      const kept = JSON.parse(Buffer.from(session.accessToken.split('.')[1]!, 'base64url').toString()) as { sid: string };
      expect(await context!.revokeSessions(userId, { except: kept.sid })).toBe(1);
      await until(() => closes.includes(4009), 'the laptop\'s socket closed with 4009');
      const refreshed = (client: RestClient) => client.refresh().then(() => 'ok', (e: { code: string }) => e.code);
      expect(await refreshed(laptop)).toBe('refresh_token_invalid');
      expect(await refreshed(phone)).toBe('ok');
    } finally {
      await server.close();
    }
  });
});
