import { randomBytes } from 'node:crypto';
import http from 'node:http';
import WebSocket from 'ws';
import { expect } from 'vitest';
import { TestSocket } from '../support/realtime';
import { registerUser, startServer, type StartOptions, type TestServer, type TestUser } from '../support/server';

/** Limits loose enough that a test opening many sockets from 127.0.0.1 is not throttled. */
export const roomyLimits = {
  handshakesPerIpPerSecond: 10_000,
  maxConnectionsPerIp: 10_000,
  newConnectionsPerSecond: 10_000,
  messagesPerSecond: 10_000,
  messageBurst: 10_000,
} as const;

/**
 * Servers and sockets a test file opened, so afterEach/afterAll can close them all.
 * Sockets are terminated (not closed politely) so no test waits on a close handshake.
 */
export class Resources {
  readonly servers: TestServer[] = [];
  readonly sockets: Array<TestSocket | WebSocket> = [];

  async server(options: StartOptions = {}): Promise<TestServer> {
    const server = await startServer({ ...options, realtimeLimits: { ...roomyLimits, ...options.realtimeLimits } });
    this.servers.push(server);
    return server;
  }

  track<T extends TestSocket | WebSocket>(socket: T): T {
    this.sockets.push(socket);
    return socket;
  }

  async open(server: TestServer, options: Parameters<typeof TestSocket.open>[1] = {}): Promise<TestSocket> {
    return this.track(await TestSocket.open(server, options));
  }

  async connect(server: TestServer, token: string): Promise<TestSocket> {
    const socket = await this.open(server);
    const answer = await socket.request({ t: 'auth', tok: token });
    if (answer.t !== 'ack') throw new Error(`auth failed: ${JSON.stringify(answer)}`);
    return socket;
  }

  /** A raw `ws` client (for options TestSocket does not expose, e.g. autoPong: false). */
  raw(server: TestServer, options: WebSocket.ClientOptions = {}): Promise<WebSocket> {
    const ws = this.track(new WebSocket(wsUrl(server), 'tandem.v1', options));
    return new Promise((resolve, reject) => {
      ws.once('open', () => resolve(ws));
      ws.once('error', reject);
    });
  }

  closeSockets(): void {
    for (const socket of this.sockets.splice(0)) {
      const ws = socket instanceof TestSocket ? socket.ws : socket;
      (ws as unknown as { _socket?: { resume(): void } })._socket?.resume();
      if (ws.readyState === WebSocket.OPEN || ws.readyState === WebSocket.CONNECTING || ws.readyState === WebSocket.CLOSING) ws.terminate();
    }
  }

  /** Closes one server now (a test of shutdown), so closeAll does not close it twice. */
  async closeServer(server: TestServer): Promise<void> {
    const index = this.servers.indexOf(server);
    if (index !== -1) this.servers.splice(index, 1);
    await server.close();
  }

  async closeAll(): Promise<void> {
    this.closeSockets();
    await Promise.all(this.servers.splice(0).map((server) => server.close()));
  }
}

export function wsUrl(server: TestServer, pathname = '/realtime'): string {
  return `${server.url.replace('http', 'ws')}${pathname}`;
}

/** Resolves with the close code and reason of a raw socket. */
export function closeOf(ws: WebSocket, timeoutMs = 10_000): Promise<{ code: number; reason: string }> {
  return new Promise((resolve, reject) => {
    if (ws.readyState === WebSocket.CLOSED) return reject(new Error('already closed'));
    const timer = setTimeout(() => reject(new Error('socket did not close')), timeoutMs);
    ws.once('close', (code, reason) => {
      clearTimeout(timer);
      resolve({ code, reason: reason.toString() });
    });
  });
}

/** Expects an err frame with this code (and, when given, this request id). */
export function expectErr(frame: { t: string; id?: number; [key: string]: unknown }, code: string, id?: number): void {
  expect(frame).toMatchObject({ t: 'err', c: code });
  expect(typeof frame.m).toBe('string');
  if (id !== undefined) expect(frame.id).toBe(id);
}

export async function users(server: TestServer, count: number): Promise<TestUser[]> {
  const out: TestUser[] = [];
  for (let i = 0; i < count; i += 1) out.push(await registerUser(server));
  return out;
}

export async function createPost(server: TestServer, user: TestUser, body = 'hello'): Promise<{ id: number }> {
  const res = await server.request('/api/posts', { method: 'POST', token: user.accessToken, json: { body } });
  if (res.status !== 201) throw new Error(`post failed: ${res.status} ${await res.text()}`);
  return (await res.json()) as { id: number };
}

export async function openConversation(server: TestServer, user: TestUser, other: TestUser): Promise<number> {
  const res = await server.request('/api/conversations', { method: 'POST', token: user.accessToken, json: { members: [other.username] } });
  if (res.status !== 201 && res.status !== 200) throw new Error(`conversation failed: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { id: number }).id;
}

export async function sendMessage(server: TestServer, user: TestUser, conversationId: number, body: string): Promise<void> {
  const res = await server.request(`/api/conversations/${conversationId}/messages`, { method: 'POST', token: user.accessToken, json: { body } });
  if (res.status !== 201) throw new Error(`message failed: ${res.status} ${await res.text()}`);
}

/** Zero everywhere: what the gateway and the hub hold once nobody is connected. */
export function idle(server: TestServer): { gateway: ReturnType<TestServer['social']['gateway']['stats']>; hub: ReturnType<TestServer['social']['hub']['stats']> } {
  return { gateway: server.social.gateway.stats(), hub: server.social.hub.stats() };
}

export interface HandshakeAnswer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  /** The problem's code, for a refused handshake. */
  code: string | undefined;
}

/**
 * A hand-made upgrade request (so a test can leave out the subprotocol or pick the path).
 * A 101 answer's socket is destroyed at once; anything else is read to the end.
 */
export function handshake(server: TestServer, options: { path?: string; protocol?: string | null; headers?: Record<string, string> } = {}): Promise<HandshakeAnswer> {
  const { port } = new URL(server.url);
  const headers: Record<string, string> = {
    connection: 'Upgrade',
    upgrade: 'websocket',
    'sec-websocket-version': '13',
    'sec-websocket-key': randomBytes(16).toString('base64'),
    ...(options.protocol === null ? {} : { 'sec-websocket-protocol': options.protocol ?? 'tandem.v1' }),
    ...options.headers,
  };
  return new Promise((resolve, reject) => {
    const request = http.request({ host: '127.0.0.1', port: Number(port), path: options.path ?? '/realtime', headers, agent: false });
    request.on('upgrade', (response, socket) => {
      socket.destroy();
      resolve({ status: response.statusCode ?? 0, headers: response.headers, body: '', code: undefined });
    });
    request.on('response', (response) => {
      let body = '';
      response.on('data', (chunk: Buffer) => (body += chunk.toString()));
      response.on('end', () => {
        let code: string | undefined;
        try {
          code = (JSON.parse(body) as { code?: string }).code;
        } catch {
          code = undefined;
        }
        resolve({ status: response.statusCode ?? 0, headers: response.headers, body, code });
      });
    });
    request.on('error', reject);
    request.end();
  });
}

/**
 * One sample of the server's Prometheus metrics (0 when absent). On a cluster, node A's (where the
 * test's sockets are), whose every series also carries `node="<id>"`.
 */
export async function metric(server: TestServer, name: string, labels = ''): Promise<number> {
  const text = await (await fetch(`${server.url}/metrics`)).text();
  const series = `${name}${labels === '' ? '' : `{${labels}}`}`;
  const line = text.split('\n').find((l) => withoutNodeLabel(l.split(' ')[0]!) === series);
  return line === undefined ? 0 : Number(line.split(' ').at(-1));
}

function withoutNodeLabel(series: string): string {
  return series.replace(/,?node="[^"]*"/, '').replace('{,', '{').replace('{}', '');
}

/** Stops reading a client socket (the kernel buffers fill, then the server's). */
export function pauseReading(ws: WebSocket): void {
  (ws as unknown as { _socket: { pause(): void } })._socket.pause();
}

export function resumeReading(ws: WebSocket): void {
  (ws as unknown as { _socket: { resume(): void } })._socket.resume();
}

/**
 * Publishes 5 KB posts as `user`, `batch` at a time, until the server has closed a slow consumer
 * (4500: kernel buffers full, then the outbound cap; a few MB on loopback). Fails past `max`.
 * Returns how many posts it made.
 */
export async function postUntilSlowConsumer(server: TestServer, user: TestUser, options: { batch: number; max: number }): Promise<number> {
  const body = 'x'.repeat(5_000);
  let produced = 0;
  while ((await metric(server, 'tandem_ws_closes_total', 'reason="slow_consumer"')) === 0) {
    expect(produced).toBeLessThan(options.max);
    await Promise.all(Array.from({ length: options.batch }, () => createPost(server, user, body)));
    produced += options.batch;
  }
  return produced;
}
