/**
 * The floor: a bare `ws` server doing the same broadcast, one `ws.send` per subscriber per
 * publication. Every connection is a subscriber as soon as it is open (no auth, no channel map).
 * The frame is the same bytes Tandem writes for a single publication (serialized once).
 *
 * Control endpoints: see common.ts.
 */
import http from 'node:http';
import { WebSocketServer, type WebSocket } from 'ws';
import { CHANNEL, EVENT, controlHandler, listenAndAnnounce, runPublications } from './common';

const clients = new Set<WebSocket>();
const wss = new WebSocketServer({ noServer: true, clientTracking: false, perMessageDeflate: false });

let offset = 0;
const server = http.createServer(
  controlHandler({
    stats: () => ({ connections: clients.size, subscribed: clients.size }),
    publish: (params) =>
      runPublications(params, (events) => {
        for (const data of events) {
          const frame = `{"t":"pub","ch":${JSON.stringify(CHANNEL)},"o":${++offset},"ev":${JSON.stringify(EVENT)},"d":${JSON.stringify(data)}}`;
          for (const ws of clients) ws.send(frame);
        }
      }, offset + 1),
  }),
);
server.on('upgrade', (request, socket, head) => {
  wss.handleUpgrade(request, socket, head, (ws) => {
    clients.add(ws);
    ws.on('close', () => clients.delete(ws));
    ws.on('error', () => ws.terminate());
  });
});
listenAndAnnounce(server, 'ws');
