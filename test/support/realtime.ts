import WebSocket from 'ws';
import type { TestServer } from './server';

export interface Frame {
  t: string;
  id?: number;
  [key: string]: unknown;
}

/**
 * A raw tandem.v1 test client over a real `ws` socket: collects every frame the server sends
 * (splitting coalesced messages on newlines), and answers requests by id.
 */
export class TestSocket {
  readonly ws: WebSocket;
  readonly frames: Frame[] = [];
  closed: { code: number; reason: string } | undefined;
  #nextId = 1;
  #waiters: Array<{ test: (f: Frame) => boolean; resolve: (f: Frame) => void }> = [];
  #closeWaiters: Array<(c: { code: number; reason: string }) => void> = [];

  constructor(ws: WebSocket) {
    this.ws = ws;
    ws.on('message', (data) => {
      for (const line of data.toString().split('\n')) {
        let frame: Frame;
        try {
          frame = JSON.parse(line) as Frame;
        } catch {
          frame = { t: 'unparseable', raw: line };
        }
        this.frames.push(frame);
        this.#waiters = this.#waiters.filter((w) => (w.test(frame) ? (w.resolve(frame), false) : true));
      }
    });
    ws.on('close', (code, reason) => {
      this.closed = { code, reason: reason.toString() };
      for (const resolve of this.#closeWaiters) resolve(this.closed);
    });
  }

  /** Opens a socket to the server's /realtime with the tandem.v1 subprotocol. */
  static async open(server: TestServer, options: { headers?: Record<string, string>; protocol?: string; localAddress?: string } = {}): Promise<TestSocket> {
    const ws = new WebSocket(`${server.url.replace('http', 'ws')}/realtime`, options.protocol ?? 'tandem.v1', {
      ...(options.headers === undefined ? {} : { headers: options.headers }),
      ...(options.localAddress === undefined ? {} : { localAddress: options.localAddress }),
    });
    const socket = new TestSocket(ws);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    return socket;
  }

  /** Opens and authenticates. */
  static async connect(server: TestServer, token: string): Promise<TestSocket> {
    const socket = await TestSocket.open(server);
    const answer = await socket.request({ t: 'auth', tok: token });
    if (answer.t !== 'ack') throw new Error(`auth failed: ${JSON.stringify(answer)}`);
    return socket;
  }

  sendRaw(data: string | Buffer): void {
    this.ws.send(data);
  }

  /** Sends a frame with a fresh id and resolves with the ack, err or pong that answers it. */
  request(frame: Record<string, unknown>): Promise<Frame> {
    const id = this.#nextId++;
    const answer = this.next((f) => f.id === id && (f.t === 'ack' || f.t === 'err' || f.t === 'pong'));
    this.ws.send(JSON.stringify({ ...frame, id }));
    return answer;
  }

  /** Resolves with the next frame received from now on that passes `test` (earlier ones are in `frames`). */
  next(test: (f: Frame) => boolean, timeoutMs = 5_000): Promise<Frame> {
    return new Promise((resolve, reject) => {
      const waiter = { test, resolve: (f: Frame) => (clearTimeout(timer), resolve(f)) };
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((w) => w !== waiter);
        reject(new Error(`no matching frame within ${timeoutMs} ms; got ${JSON.stringify(this.frames.slice(-5))}`));
      }, timeoutMs);
      this.#waiters.push(waiter);
    });
  }

  /** Publications received on a channel, in arrival order. */
  publications(channel: string): Frame[] {
    return this.frames.filter((f) => f.t === 'pub' && f.ch === channel);
  }

  /** Resolves when the server (or we) closed the socket. */
  whenClosed(timeoutMs = 10_000): Promise<{ code: number; reason: string }> {
    if (this.closed !== undefined) return Promise.resolve(this.closed);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('socket did not close')), timeoutMs);
      this.#closeWaiters.push((c) => (clearTimeout(timer), resolve(c)));
    });
  }

  close(): void {
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) this.ws.terminate();
  }
}

/** The HTTP answer to a refused upgrade: status, headers and the problem body. */
export function refusedHandshake(server: TestServer, headers: Record<string, string> = {}, protocol = 'tandem.v1'): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${server.url.replace('http', 'ws')}/realtime`, protocol, { headers });
    ws.on('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    ws.on('open', () => {
      ws.terminate();
      reject(new Error('the handshake was accepted'));
    });
    ws.on('error', () => {});
  });
}
