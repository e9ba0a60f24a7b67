/**
 * A WebSocket client speaking tandem.v1 (docs/protocol.md) as Tandem's RealtimeClient does on
 * the wire: `auth`, then `sub` once authenticated, then publications; a `ping` frame every
 * PING_INTERVAL_MS (the RealtimeClient's default heartbeat). Raw frames rather than the
 * RealtimeClient itself, so the client process spends as little CPU per message as it can and the
 * measurement is the server's.
 */
import { WebSocket } from 'ws';
import { nowMicros } from '../clock';
import { PUSHED, type Observations } from '../observations';

/** The RealtimeClient's default ping interval (its heartbeatIntervalMs). */
export const PING_INTERVAL_MS = 20_000;

export interface PushClientOptions {
  /** http(s)://host:port of the server. */
  base: URL;
  channel: string;
  token: string;
  headers: Record<string, string>;
  index: number;
  observations: Observations;
  onError(error: Error): void;
}

const PUB = '{"t":"pub"';
const VERSION = '"version":';

/**
 * Records every `pub` of a (possibly coalesced, '\n'-separated) server message. A publication's
 * version is read without parsing the whole frame (a 16 KiB payload parsed for one number would
 * make the client process, not the server, the limit of the bench); any other frame is parsed.
 */
export function recordPublications(text: string, index: number, observations: Observations): void {
  const at = nowMicros();
  let start = 0;
  while (start < text.length) {
    let end = text.indexOf('\n', start);
    if (end === -1) end = text.length;
    if (text.startsWith(PUB, start)) {
      const v = text.indexOf(VERSION, start);
      if (v !== -1 && v < end) observations.record(index, Number.parseInt(text.slice(v + VERSION.length, v + VERSION.length + 12), 10), at, PUSHED);
    }
    start = end + 1;
  }
}

export class WsClient {
  readonly #options: PushClientOptions;
  #ws: WebSocket | undefined;
  #pinger: NodeJS.Timeout | undefined;
  #nextId = 3;
  #closing = false;

  constructor(options: PushClientOptions) {
    this.#options = options;
  }

  /** Opens, authenticates and subscribes; resolves once the subscription is acknowledged. */
  connect(phaseMs: number): Promise<void> {
    const { base, channel, token, headers, index, observations } = this.#options;
    const url = `${base.protocol === 'https:' ? 'wss' : 'ws'}://${base.host}/realtime`;
    const ws = new WebSocket(url, 'tandem.v1', { headers });
    this.#ws = ws;
    return new Promise<void>((resolve, reject) => {
      let live = false;
      const timer = setTimeout(() => fail(new Error('not subscribed within 30 s')), 30_000);
      const fail = (error: Error) => {
        clearTimeout(timer);
        if (live) return this.#options.onError(error);
        ws.terminate();
        reject(error);
      };
      ws.once('open', () => ws.send(JSON.stringify({ t: 'auth', id: 1, tok: token })));
      ws.on('message', (data: Buffer) => {
        const text = data.toString('utf8');
        if (live) return recordPublications(text, index, observations);
        for (const line of text.split('\n')) {
          const frame = JSON.parse(line) as { t: string; id?: number; c?: string };
          if (frame.t === 'err') return fail(new Error(`refused: ${frame.c}`));
          if (frame.t === 'ack' && frame.id === 1) ws.send(JSON.stringify({ t: 'sub', id: 2, ch: channel }));
          if (frame.t === 'ack' && frame.id === 2) {
            live = true;
            clearTimeout(timer);
            this.#startPings(phaseMs);
            resolve();
          }
        }
      });
      ws.once('unexpected-response', (_req, res) => fail(new Error(`handshake answered ${res.statusCode}`)));
      ws.on('error', (error) => fail(error));
      ws.once('close', (code) => {
        if (live && !this.#closing) this.#options.onError(new Error(`closed by the server (${code})`));
      });
    });
  }

  /** A normal close (1000), waiting for the server's close frame (cut after 5 s). */
  close(): Promise<void> {
    this.#closing = true;
    clearInterval(this.#pinger);
    const ws = this.#ws;
    if (ws === undefined || ws.readyState === WebSocket.CLOSED) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        ws.terminate();
        resolve();
      }, 5_000);
      ws.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
      ws.close(1000);
    });
  }

  #startPings(phaseMs: number): void {
    const ping = () => {
      if (this.#ws?.readyState === WebSocket.OPEN) this.#ws.send(JSON.stringify({ t: 'ping', id: this.#nextId++ }));
    };
    this.#pinger = setTimeout(() => {
      ping();
      this.#pinger = setInterval(ping, PING_INTERVAL_MS);
    }, phaseMs % PING_INTERVAL_MS);
  }
}
