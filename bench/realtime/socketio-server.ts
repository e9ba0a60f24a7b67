/**
 * Socket.IO 4.8 doing the same job: every client joins one room on connect, a publication is
 * `io.to(room).emit(event, data)` (Socket.IO encodes a broadcast once and pre-frames it).
 * WebSocket transport only (no long-polling), no compression: Socket.IO's best case.
 *
 * Control endpoints: see common.ts.
 */
import http from 'node:http';
import { Server } from 'socket.io';
import { EVENT, ROOM, type ServerStats, controlHandler, listenAndAnnounce, runPublications } from './common';

const server: http.Server = http.createServer(
  controlHandler({
    stats: (): ServerStats => ({ connections: io.engine.clientsCount, subscribed: io.sockets.adapter.rooms.get(ROOM)?.size ?? 0 }),
    publish: (params) =>
      runPublications(params, (events) => {
        for (const data of events) io.to(ROOM).emit(EVENT, data);
      }, 1),
  }),
);
const io: Server = new Server(server, { transports: ['websocket'], serveClient: false, perMessageDeflate: false, httpCompression: false, cors: undefined });
io.on('connection', (socket) => {
  void socket.join(ROOM);
});
listenAndAnnounce(server, 'socketio', () => void io.close());
