/**
 * Optional reference (not in the default run; BENCH_SERVERS=…,ws-frame-once): bare `ws` that
 * serializes AND frames each publication once — header and payload in one Buffer — and writes
 * that same Buffer to every subscriber's socket (one `socket.write`, no per-socket UTF-8 encoding,
 * header allocation or cork/writev). It shows what "frame once" is worth on single messages,
 * where there is nothing to coalesce. Like Socket.IO's pre-encoded broadcast frames, it relies on
 * ws internals (`_socket`), valid because compression is off (the Sender never queues).
 */
import http from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { CHANNEL, EVENT, controlHandler, listenAndAnnounce, runPublications } from './common';

const sockets = new Set<Duplex>();
const wss = new WebSocketServer({ noServer: true, clientTracking: false, perMessageDeflate: false });

/** An unmasked, final text frame: header + payload in one Buffer. */
function textFrame(text: string): Buffer {
  const length = Buffer.byteLength(text);
  const headerLength = length < 126 ? 2 : length < 65536 ? 4 : 10;
  const frame = Buffer.allocUnsafe(headerLength + length);
  frame[0] = 0x81;
  if (length < 126) frame[1] = length;
  else if (length < 65536) {
    frame[1] = 126;
    frame.writeUInt16BE(length, 2);
  } else {
    frame[1] = 127;
    frame.writeUInt32BE(0, 2);
    frame.writeUInt32BE(length, 6);
  }
  frame.write(text, headerLength, 'utf8');
  return frame;
}

let offset = 0;
const server = http.createServer(
  controlHandler({
    stats: () => ({ connections: sockets.size, subscribed: sockets.size }),
    publish: (params) =>
      runPublications(params, (events) => {
        for (const data of events) {
          const frame = textFrame(`{"t":"pub","ch":${JSON.stringify(CHANNEL)},"o":${++offset},"ev":${JSON.stringify(EVENT)},"d":${JSON.stringify(data)}}`);
          for (const socket of sockets) socket.write(frame);
        }
      }, offset + 1),
  }),
);
server.on('upgrade', (request, upgradeSocket, head) => {
  wss.handleUpgrade(request, upgradeSocket, head, (ws: WebSocket) => {
    const socket = (ws as unknown as { _socket: Duplex })._socket;
    sockets.add(socket);
    ws.on('close', () => sockets.delete(socket));
    ws.on('error', () => ws.terminate());
  });
});
listenAndAnnounce(server, 'ws-frame-once');
