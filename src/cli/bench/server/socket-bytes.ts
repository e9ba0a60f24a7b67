import type { Server } from 'node:http';
import type { Socket } from 'node:net';

/**
 * Counts the TCP payload bytes of every connection the server accepts, in each direction, at the
 * socket: HTTP heads, bodies, chunk framing, WebSocket frames and SSE events alike, since an
 * upgraded WebSocket keeps the socket it arrived on. Connections that carried a control request
 * are left out entirely (see markControl), so the bench's own steering is never measured.
 */
export class SocketBytes {
  readonly #live = new Set<Socket>();
  readonly #control = new WeakSet<Socket>();
  #closedIn = 0;
  #closedOut = 0;
  #accepted = 0;
  #requests = 0;

  /** Starts counting on `server` (call before it listens). */
  attach(server: Server, isControl: (url: string) => boolean): void {
    const live = this.#live;
    const self = this;
    // One shared listener for every socket (`this` is the socket): no closure per connection.
    function onClose(this: Socket): void {
      live.delete(this);
      if (self.#control.has(this)) return;
      self.#closedIn += this.bytesRead;
      self.#closedOut += this.bytesWritten;
    }
    server.on('connection', (socket: Socket) => {
      this.#accepted += 1;
      live.add(socket);
      socket.once('close', onClose);
    });
    server.on('request', (request: { url?: string }) => {
      if (!isControl(request.url ?? '')) this.#requests += 1;
    });
  }

  /** Leaves this connection out of every count, past and future (it carries control requests). */
  markControl(socket: Socket): void {
    if (this.#control.has(socket)) return;
    this.#control.add(socket);
    this.#accepted -= 1;
  }

  snapshot(): { bytesIn: number; bytesOut: number; openSockets: number; acceptedSockets: number; requests: number } {
    let bytesIn = this.#closedIn;
    let bytesOut = this.#closedOut;
    let open = 0;
    for (const socket of this.#live) {
      if (this.#control.has(socket)) continue;
      bytesIn += socket.bytesRead;
      bytesOut += socket.bytesWritten;
      open += 1;
    }
    return { bytesIn, bytesOut, openSockets: open, acceptedSockets: this.#accepted, requests: this.#requests };
  }
}
