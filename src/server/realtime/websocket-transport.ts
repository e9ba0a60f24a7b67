import type { Duplex } from 'node:stream';
import { WebSocket } from 'ws';
import { payloadOf } from './text-frame';
import type { Payload, Transport, TransportSink } from './transport';

type RawSocket = Duplex & { writableLength: number };
/** ws's frame parser, as far as trimReceiveBuffer reads it (not public API). */
type Receiver = { _buffers?: unknown; _bufferedBytes?: unknown };

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
 * ws's parser queues each incoming chunk in an array and takes it out again; the array keeps the
 * capacity it grew to (152 bytes for the auth and sub frames every client sends) for the socket's
 * whole life. Once it is empty again, setting its length to 0 gives that back: no data is touched,
 * and the next chunk grows it as before. (Not public API: without these fields, nothing happens.)
 */
function trimReceiveBuffer(ws: WebSocket): void {
  const receiver = (ws as unknown as { _receiver?: Receiver | null })._receiver;
  const buffers = receiver?._buffers;
  if (receiver?._bufferedBytes === 0 && Array.isArray(buffers) && buffers.length === 0) buffers.length = 0;
}

/**
 * A connection's transport: the `ws` WebSocket itself (permessage-deflate off), a subclass the
 * gateway's WebSocketServer creates (its `WebSocket` option). Idle memory per socket is part of
 * the product: being the socket costs two fields instead of a wrapper object, and ws's events
 * reach the connection through `emit` instead of four listeners in the socket's listener table.
 *
 * @example
 *   const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, WebSocket: WebSocketTransport });
 *   wss.handleUpgrade(request, socket, head, (ws) => new Connection(ws as WebSocketTransport, ctx, meta));
 */
export class WebSocketTransport extends WebSocket implements Transport {
  #sink: TransportSink = unbound;
  /** Whether the peer answered since the last heartbeat (a pong). */
  #alive = true;

  bind(sink: TransportSink): void {
    this.#sink = sink;
  }

  /**
   * ws announces everything through emit: the four events a connection needs go to it directly
   * (what listeners would have done, at the same moment); any other goes to listeners as usual.
   */
  override emit(event: string | symbol, ...args: unknown[]): boolean {
    switch (event) {
      case 'message':
        // Not a sign of life: only a pong proves the peer reads (a client that only sends would
        // otherwise never be dropped while its unread replies pile up).
        this.#sink.received(args[0] as Buffer, args[1] as boolean);
        trimReceiveBuffer(this);
        return true;
      case 'pong':
        this.#alive = true;
        return true;
      case 'close':
        this.#sink.ended(args[0] as number);
        return true;
      case 'error':
        this.terminate();
        return true;
      default:
        return super.emit(event, ...args);
    }
  }

  get writable(): boolean {
    return this.readyState === WebSocket.OPEN;
  }

  /** The socket's writableLength (ws's bufferedAmount without deflate, read without ws's getter). */
  get backlog(): number {
    const socket = rawSocketOf(this);
    return socket === undefined ? this.bufferedAmount : socket.writableLength;
  }

  /**
   * Writes the pre-built frame (shared by every connection with the same queue) straight to the
   * socket: with permessage-deflate off, ws's sender writes synchronously too, so the order with
   * its own frames (pings, close) is kept.
   */
  write(payload: Payload): number {
    const frame = payload.websocketFrame();
    const socket = rawSocketOf(this);
    if (socket === undefined) this.send(payloadOf(frame), { binary: false });
    else socket.write(frame);
    return frame.length;
  }

  /** A close frame; ws limits its reason to 123 bytes (ws's own calls pass through unchanged). */
  override close(code?: number, reason?: string | Buffer): void {
    super.close(code, typeof reason === 'string' ? reason.slice(0, 123) : reason);
  }

  /** A peer that answered the last ping is pinged again; one that did not is reported dead. */
  heartbeat(): boolean {
    if (!this.#alive) return false;
    this.#alive = false;
    this.ping();
    return true;
  }
}
