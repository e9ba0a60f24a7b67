/**
 * The Socket.IO side of the storm bench: Socket.IO 4.8 (WebSocket transport only, no
 * compression, every client joins one room) on a plain http server whose one JSON route,
 * GET /api/items/:id, is what the unrelated reader polls; GET /bench/stats counts connections.
 * No authentication and no admission control: Socket.IO has neither built in. Listens on
 * PORT/HOST from the environment, prints `socketio listening on <port>`; SIGTERM closes every
 * connection (io.close()) and exits.
 */
import http from 'node:http';
import { Server } from 'socket.io';
import { whenParentGone } from '../common/children';

const ITEM = { id: 1, body: 'An item the reader polls: a small JSON answer, like a post.', author: { id: 1, name: 'reader' }, createdAt: '2026-12-07T00:00:00.000Z' };

const server = http.createServer((req, res) => {
  const send = (status: number, body: unknown) => {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-cache' });
    res.end(text);
  };
  const url = req.url ?? '/';
  const item = /^\/api\/items\/(\d+)$/.exec(url);
  if (req.method === 'GET' && item !== null) return send(200, { ...ITEM, id: Number(item[1]) });
  if (req.method === 'GET' && url === '/bench/stats') return send(200, { connections: io.engine.clientsCount, subscriptions: io.sockets.adapter.rooms.get('room')?.size ?? 0, pid: process.pid });
  if (!url.startsWith('/socket.io/')) send(404, { error: 'not found' });
});
const io = new Server(server, { transports: ['websocket'], serveClient: false, perMessageDeflate: false, httpCompression: false });
io.on('connection', (socket) => void socket.join('room'));

server.listen({ port: Number(process.env.PORT ?? 0), host: process.env.HOST ?? '127.0.0.1', backlog: 4096 }, () => {
  const address = server.address();
  process.stdout.write(`socketio listening on ${typeof address === 'object' && address !== null ? address.port : 0}\n`);
});

let stopping = false;
function stop(): void {
  if (stopping) return;
  stopping = true;
  setTimeout(() => process.exit(0), 3000).unref();
  io.close(() => process.exit(0));
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
whenParentGone(stop);
