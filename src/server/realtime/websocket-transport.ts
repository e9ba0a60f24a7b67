import type { Duplex } from 'node:stream';
import type { WebSocket } from 'ws';
import { payloadOf } from './text-frame';
import type { Payload, Transport, TransportSink } from './transport';

const kTransport = Symbol('tandem.transport');
type WebSocketWithTransport = WebSocket & { [kTransport]: WebSocketTransport };
type RawSocket = Duplex & { writableLength: number };

/** Reports nothing: the sink of a transport no connection has bound yet. */
const unbound: TransportSink = Object.freeze({ received() {}, ended() {} });

/**
 * ws keeps its net.Socket in `_socket` (not public API). Writing a pre-framed message there is
 * what makes "frame once per publication" possible; if a future ws hides it, writes fall back
 * to ws.send and only lose that optimisation.
 */
function rawSocketOf(ws: WebSocket): RawSocket | undefined {
  const socket = (ws as unknown as { _socket?: RawSocket | null })._socket;
  return socket !== undefined && socket !== null && typeof socket.write === 'function' ? socket : undefined;
}

/**
 * A connection's transport over a `ws` WebSocket (permessage-deflate off). Idle memory per
 * socket is part of the product: this wrapper holds three fields, and the socket's listeners are
 * one set of functions shared by every socket, which find their transport through a symbol on
 * the socket (no closures per socket).
 */
export class WebSocketTransport implements Transport {
  readonly #ws: WebSocket;
  #sink: TransportSink = unbound;
  /** Whether the peer answered since the last heartbeat (a pong). */
  #alive = true;

  constructor(ws: WebSocket) {
    this.#ws = ws;
    (ws as WebSocketWithTransport)[kTransport] = this;
    ws.on('message', WebSocketTransport.#onMessage);
    ws.on('pong', WebSocketTransport.#onPong);
    ws.on('close', WebSocketTransport.#onClose);
    ws.on('error', WebSocketTransport.#onError);
  }

  bind(sink: TransportSink): void {
    this.#sink = sink;
  }

  // ws calls its listeners with `this` = the socket.
  static #onMessage = function (this: WebSocket, data: Buffer, isBinary: boolean) {
    // Not a sign of life: only a pong proves the peer reads (a client that only sends would
    // otherwise never be dropped while its unread replies pile up).
    (this as WebSocketWithTransport)[kTransport].#sink.received(data, isBinary);
  };
  static #onPong = function (this: WebSocket) {
    (this as WebSocketWithTransport)[kTransport].#alive = true;
  };
  static #onClose = function (this: WebSocket, code: number) {
    (this as WebSocketWithTransport)[kTransport].#sink.ended(code);
  };
  static #onError = function (this: WebSocket) {
    this.terminate();
  };

  get writable(): boolean {
    return this.#ws.readyState === this.#ws.OPEN;
  }

  /** The socket's writableLength (ws's bufferedAmount without deflate, read without ws's getter). */
  get backlog(): number {
    const socket = rawSocketOf(this.#ws);
    return socket === undefined ? this.#ws.bufferedAmount : socket.writableLength;
  }

  /**
   * Writes the pre-built frame (shared by every connection with the same queue) straight to the
   * socket: with permessage-deflate off, ws's sender writes synchronously too, so the order with
   * its own frames (pings, close) is kept.
   */
  write(payload: Payload): number {
    const frame = payload.websocketFrame();
    const socket = rawSocketOf(this.#ws);
    if (socket === undefined) this.#ws.send(payloadOf(frame), { binary: false });
    else socket.write(frame);
    return frame.length;
  }

  /** A close frame; ws limits its reason to 123 bytes. */
  close(code: number, reason: string): void {
    this.#ws.close(code, reason.slice(0, 123));
  }

  terminate(): void {
    this.#ws.terminate();
  }

  /** A peer that answered the last ping is pinged again; one that did not is reported dead. */
  heartbeat(): boolean {
    if (!this.#alive) return false;
    this.#alive = false;
    this.#ws.ping();
    return true;
  }
}
