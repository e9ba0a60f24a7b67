import WebSocket from 'ws';
import { RealtimeClient, TokenStore, type ConnectionStateChange, type FetchLike, type RealtimeClientOptions, type RealtimeMessage, type TransportKind } from '../../src/client/index';
import type { TestServer, TestUser } from '../support/server';
import { sleep } from '../support/wait';

/** Handshakes and connection counts are not what these tests are about. */
export const roomyLimits = {
  handshakesPerIpPerSecond: 10_000,
  newConnectionsPerSecond: 10_000,
  maxConnectionsPerIp: 10_000,
  maxConnectionsPerUser: 1_000,
  messagesPerSecond: 10_000,
  messageBurst: 10_000,
};

/** Anything with a URL and a fetch helper: a TestServer or a server a test built on its own data folder. */
export type Reachable = Pick<TestServer, 'url' | 'request'>;

/** How long the reconnecting clients of these tests may take to get somewhere (the `until` timeout they pass). */
export const RECONNECT_MS = 10_000;

/** The REST refresh a TokenStore calls: rotates the user's refresh token; `failNext` makes the next one throw. */
export function refresher(server: () => Reachable, user: TestUser) {
  let refreshToken = user.refreshToken;
  const counts = { calls: 0, failNext: 0 };
  const refresh = async () => {
    counts.calls += 1;
    if (counts.failNext > 0) {
      counts.failNext -= 1;
      throw new Error('refresh failed (network, in a test)');
    }
    const res = await server().request('/api/auth/refresh', { method: 'POST', json: { refreshToken } });
    if (res.status !== 200) throw Object.assign(new Error(`refresh ${res.status}`), { status: res.status });
    const body = (await res.json()) as { accessToken: string; refreshToken: string; expiresAt: number };
    refreshToken = body.refreshToken;
    return { accessToken: body.accessToken, expiresAt: body.expiresAt };
  };
  return { refresh, counts };
}

export interface ClientUnderTest {
  client: RealtimeClient;
  tokens: TokenStore;
  /** Every `ws` socket the client opened, in order (one per connection attempt). */
  sockets: WebSocket[];
  /** Every frame the client sent, with the index of the socket it went out on. */
  sent: Array<{ socket: number; frame: Record<string, unknown> }>;
  states: ConnectionStateChange[];
  refreshes: { calls: number; failNext: number };
  /** The session id of the user's tokens (the JWT's `sid`), for gateway.closeSession. */
  sessionId: string;
  /** Every SSE stream request (GET) the client made, in order; `resume` when it carried Last-Event-ID. */
  streams: Array<{ resume: boolean; status: number; kill(): void }>;
  /** Cuts the client's current connection at the TCP level, as a network would (no close frame or event). */
  cut(): void;
  /** Connection attempts so far: WebSockets opened, or SSE streams started (resumes not counted). */
  attempts(): number;
  /** Faults for the SSE transport's HTTP requests (see SseFaults). */
  faults: SseFaults;
}

/** Faults a test can set on the SSE fallback's requests, as a bad network would cause them. */
export interface SseFaults {
  /** The current stream delivers nothing more (bytes arrive and are lost): a connection that died silently. */
  stall(): void;
  /** The next N resume requests fail at the network level. */
  failResumes: number;
  /** Resume requests wait this long before they go out. */
  delayResumesMs: number;
}

/**
 * The global fetch, watched: records the SSE stream requests (so a test can cut or stall one, as
 * a dead network would), the frames POSTed upstream, and applies the test's faults.
 */
function trackedFetch(streams: ClientUnderTest['streams'], sent: ClientUnderTest['sent']): { fetch: FetchLike; faults: SseFaults } {
  let stallCurrent: () => void = () => {};
  const faults: SseFaults = { stall: () => stallCurrent(), failResumes: 0, delayResumesMs: 0 };
  const tracked: FetchLike = async (url, init) => {
    if (init.method === 'POST' && typeof init.body === 'string') {
      for (const line of init.body.split('\n')) sent.push({ socket: streams.length - 1, frame: JSON.parse(line) as Record<string, unknown> });
    }
    const isStream = (init.method ?? 'GET') === 'GET' && init.headers?.accept === 'text/event-stream';
    if (!isStream) return fetch(url, init);
    const resume = init.headers?.['last-event-id'] !== undefined;
    const cut = new AbortController();
    const signal = init.signal === undefined ? cut.signal : AbortSignal.any([init.signal, cut.signal]);
    const entry = { resume, status: 0, kill: () => cut.abort() };
    streams.push(entry);
    if (resume && faults.delayResumesMs > 0) await sleep(faults.delayResumesMs);
    if (resume && faults.failResumes > 0) {
      faults.failResumes -= 1;
      throw new TypeError('fetch failed (a test fault)');
    }
    const response = await fetch(url, { ...init, signal });
    entry.status = response.status;
    if (response.body === null) return response;
    // Pass the body through, or swallow it once stalled (the bytes arrive and are lost).
    let stalled = false;
    stallCurrent = () => void (stalled = true);
    const source = response.body.getReader();
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        for (;;) {
          const { done, value } = await source.read();
          if (done) return controller.close();
          if (!stalled) return controller.enqueue(value);
        }
      },
      cancel: (reason) => source.cancel(reason),
    });
    return new Response(body, { status: response.status, headers: response.headers });
  };
  return { fetch: tracked, faults };
}

/**
 * Realtime clients a test file opened, over real `ws` sockets or the SSE fallback (one transport
 * per client unless a test passes `transports`), so afterEach can close them. The backoff is shortened (tests wait on reconnects); everything else is the default.
 */
export class Clients {
  readonly #open: ClientUnderTest[] = [];

  create(server: Reachable | (() => Reachable), user: TestUser, options: Partial<RealtimeClientOptions> & { token?: string; transport?: TransportKind } = {}): ClientUnderTest {
    const current = typeof server === 'function' ? server : () => server;
    const { refresh, counts } = refresher(current, user);
    const tokens = new TokenStore({ refresh, initial: { accessToken: options.token ?? user.accessToken, expiresAt: Date.now() + 600_000 } });
    const sockets: WebSocket[] = [];
    const sent: ClientUnderTest['sent'] = [];
    class TrackedWebSocket extends WebSocket {
      constructor(url: string, protocols?: string | string[]) {
        super(url, protocols);
        sockets.push(this);
      }

      override send(data: string): void {
        sent.push({ socket: sockets.indexOf(this), frame: JSON.parse(data) as Record<string, unknown> });
        super.send(data);
      }
    }
    const streams: ClientUnderTest['streams'] = [];
    const { fetch: sseFetch, faults } = trackedFetch(streams, sent);
    // One transport per client unless a test asks for the fallback logic itself.
    const { transport = 'websocket', ...clientOptions } = options;
    const client = new RealtimeClient({
      url: () => `${current().url.replace('http', 'ws')}/realtime`,
      tokens,
      WebSocket: TrackedWebSocket,
      fetch: sseFetch,
      storage: null,
      transports: [transport],
      backoff: { baseMs: 20, capMs: 200 },
      ...clientOptions,
    });
    const states: ConnectionStateChange[] = [];
    client.on('state', (change) => states.push(change));
    const payload = JSON.parse(Buffer.from(user.accessToken.split('.')[1]!, 'base64url').toString()) as { sid: string };
    const cut = () => (client.transport === 'sse' ? streams.at(-1)?.kill() : sockets.at(-1)?.terminate());
    const attempts = () => sockets.length + streams.filter((s) => !s.resume).length;
    const handle = { client, tokens, sockets, sent, states, refreshes: counts, sessionId: payload.sid, streams, cut, attempts, faults };
    this.#open.push(handle);
    return handle;
  }

  closeAll(): void {
    for (const { client, sockets, streams } of this.#open.splice(0)) {
      client.disconnect();
      for (const stream of streams) stream.kill();
      for (const socket of sockets) if (socket.readyState !== WebSocket.CLOSED) socket.terminate();
    }
  }
}

/** Collects what a subscription delivers. */
export function collector(): { messages: RealtimeMessage[]; handler: (m: RealtimeMessage) => void; offsets: () => number[] } {
  const messages: RealtimeMessage[] = [];
  return { messages, handler: (m) => messages.push(m), offsets: () => messages.filter((m) => m.offset !== undefined).map((m) => m.offset!) };
}

export function range(from: number, to: number): number[] {
  return Array.from({ length: Math.max(0, to - from + 1) }, (_, i) => from + i);
}

export async function comment(server: Reachable, user: TestUser, postId: number, body: string): Promise<{ id: number }> {
  const res = await server.request(`/api/posts/${postId}/comments`, { method: 'POST', token: user.accessToken, json: { body } });
  if (res.status !== 201) throw new Error(`comment failed: ${res.status} ${await res.text()}`);
  return (await res.json()) as { id: number };
}

/** Writes `count` comments from `parallel` writers, pausing up to 2×gapMs between each. */
export function writeComments(server: Reachable, user: TestUser, postId: number, count: number, parallel: number, gapMs: number): { done: Promise<void>; written: () => number } {
  let started = 0;
  let written = 0;
  const worker = async () => {
    while (started < count) {
      started += 1;
      await comment(server, user, postId, `c${started}`);
      written += 1;
      if (gapMs > 0) await sleep(Math.random() * gapMs * 2);
    }
  };
  const done = Promise.all(Array.from({ length: parallel }, worker)).then(() => undefined);
  done.catch(() => {});
  return { done, written: () => written };
}

/** Resolves at the client's next state change to `state`. */
export function nextState(client: RealtimeClient, state: ConnectionStateChange['state'], timeoutMs = 10_000): Promise<ConnectionStateChange> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => (stop(), reject(new Error(`no '${state}' within ${timeoutMs} ms (now ${client.state})`))), timeoutMs);
    const stop = client.on('state', (change) => {
      if (change.state !== state) return;
      clearTimeout(timer);
      stop();
      resolve(change);
    });
  });
}
