import { validateHeaderName, validateHeaderValue, type IncomingMessage, type OutgoingHttpHeaders, type ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import { Socket } from 'node:net';

/**
 * Where an SSE stream's bytes go: the TCP socket taken over from Node's HTTP server (see
 * takeOverStream), or the HTTP response itself when it could not be taken over. Both are Node
 * streams with these members.
 */
export interface SseWire {
  /** Bytes written but not yet taken by the network (what counts against the outbound cap). */
  readonly writableLength: number;
  write(chunk: string | Uint8Array): boolean;
  end(chunk: string): unknown;
  destroy(): unknown;
  on(event: 'close', listener: () => void): unknown;
  once(event: 'close', listener: () => void): unknown;
}

/** The HTTP server's parser on a socket (what Node frees on an upgrade). */
type HttpParser = object;
type ServerSocket = Socket & { parser?: HttpParser | null; _httpMessage?: ServerResponse | null };

/**
 * Node's own helper for handing a socket over on an upgrade (lib/_http_common.js): it stops the
 * parser reading the socket, clears its references and returns it to Node's pool. Not public API:
 * on a Node without it, streams stay on their HTTP response (more memory, same behaviour).
 */
const freeParser = loadFreeParser();

function loadFreeParser(): ((parser: HttpParser, request: IncomingMessage, socket: Socket) => void) | undefined {
  try {
    const common = createRequire(import.meta.url)('_http_common') as { freeParser?: unknown };
    return typeof common.freeParser === 'function' ? (common.freeParser as (parser: HttpParser, request: IncomingMessage, socket: Socket) => void) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The listeners Node's HTTP server puts on each of its sockets (lib/_http_server.js,
 * connectionListenerInternal), by event and function name: the ones an upgrade removes, plus the
 * parser's pause/resume. They hold the connection's parser state, its IncomingMessage and its
 * ServerResponse for as long as the socket lives.
 */
const SERVER_LISTENERS: ReadonlyArray<readonly [string, string]> = [
  ['data', 'bound socketOnData'],
  ['end', 'bound socketOnEnd'],
  ['close', 'bound socketOnClose'],
  ['drain', 'bound socketOnDrain'],
  ['error', 'socketOnError'],
  ['timeout', 'socketOnTimeout'],
  ['resume', 'onSocketResume'],
  ['pause', 'onSocketPause'],
];

/**
 * Starts an admitted SSE stream: status 200 and `headers`, then the stream's TCP connection is
 * taken away from Node's HTTP server, as Node does for a WebSocket upgrade: its parser, listeners,
 * IncomingMessage and ServerResponse (and the framework's request and reply, which only they
 * kept) are let go, and the events are written straight to the socket, without chunked framing
 * (the response is `Connection: close`, so its body ends with the connection). An idle stream
 * then holds its socket and little else, as a WebSocket does.
 *
 * Where the connection cannot be taken over (not a plain TCP socket with Node's HTTP/1 parser,
 * e.g. an injected request, or a Node whose HTTP internals differ), the response is started as
 * usual and returned: chunked, and the HTTP objects stay, but the stream behaves the same.
 */
export function takeOverStream(request: IncomingMessage, response: ServerResponse, headers: OutgoingHttpHeaders): SseWire {
  const socket = request.socket as ServerSocket;
  const listeners = serverListenersOf(socket, response);
  const head = listeners === undefined ? undefined : responseHead(headers);
  if (listeners === undefined || head === undefined) {
    response.writeHead(200, headers);
    response.socket?.setNoDelay(true);
    return response;
  }
  socket.setNoDelay(true);
  // The head and the first event (written by the caller this turn) leave in one packet.
  socket.cork();
  process.nextTick(uncork, socket);
  socket.write(head, 'latin1');
  // Not now: this runs inside the parser's callback for the request's headers, and a parser freed
  // there would put itself back in the server's connection list when the request completes.
  setImmediate(detach, socket, request, response);
  return socket;
}

/** Takes `socket` away from Node's HTTP server, as an upgrade does (lib/_http_server.js). */
function detach(socket: ServerSocket, request: IncomingMessage, response: ServerResponse): void {
  // Closed meanwhile: Node's own listeners have already released everything.
  const listeners = socket.destroyed ? undefined : serverListenersOf(socket, response);
  if (listeners === undefined) return;
  for (const [event, listener] of listeners) socket.removeListener(event, listener);
  response.detachSocket(socket);
  // Stops the parser reading the socket (the socket's own reads take over), clears it and pools it.
  freeParser!(socket.parser!, request, socket);
  // A server timeout (none by default) would now fire with no listener to act on it.
  socket.setTimeout(0);
  // Shared functions: no closure per stream. Added after the parser is gone, so Node's listener
  // wrappers on the socket put back the plain ones.
  socket.on('error', destroyOnError);
  // Node's server is not half-open: a peer that ends its side gets the end of ours.
  socket.on('end', endOnEnd);
  // The stream sends nothing up this connection (frames are POSTed): whatever arrives is dropped.
  socket.resume();
}

/** Node's listeners on `socket`, if the connection is one this code knows how to take over. */
function serverListenersOf(socket: ServerSocket, response: ServerResponse): Array<[string, (...args: unknown[]) => void]> | undefined {
  if (freeParser === undefined || !(socket instanceof Socket) || socket.destroyed || socket.parser == null) return undefined;
  if (socket._httpMessage !== response || response.headersSent || typeof response.detachSocket !== 'function') return undefined;
  const found: Array<[string, (...args: unknown[]) => void]> = [];
  for (const [event, name] of SERVER_LISTENERS) {
    const listener = socket.listeners(event).find((candidate) => candidate.name === name) as ((...args: unknown[]) => void) | undefined;
    if (listener === undefined) return undefined;
    found.push([event, listener]);
  }
  return found;
}

/** The status line and headers as Node would write them (plus Date), or undefined if a header is not valid. */
function responseHead(headers: OutgoingHttpHeaders): string | undefined {
  let head = 'HTTP/1.1 200 OK\r\n';
  let date = false;
  try {
    for (const [name, value] of Object.entries(headers)) {
      if (value === undefined) continue;
      validateHeaderName(name);
      if (name.toLowerCase() === 'date') date = true;
      for (const one of Array.isArray(value) ? value : [String(value)]) {
        validateHeaderValue(name, one);
        head += `${name}: ${one}\r\n`;
      }
    }
  } catch {
    return undefined;
  }
  if (!date) head += `date: ${new Date().toUTCString()}\r\n`;
  return `${head}\r\n`;
}

function destroyOnError(this: Socket): void {
  this.destroy();
}

function endOnEnd(this: Socket): void {
  this.end();
}

function uncork(socket: Socket): void {
  socket.uncork();
}
