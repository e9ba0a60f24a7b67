/**
 * The handshake's same-work floor (BENCH_SERVERS=…,ws-auth; not in the default run): bare `ws`
 * doing what a Tandem client's connection setup makes the server do and nothing else. It speaks
 * enough tandem.v1 for the bench client: the `tandem.v1` subprotocol, an `auth` frame whose token
 * is verified as Tandem verifies it (HS256 JWT, bench/common/jwt.ts) with the session and the
 * user's name read from SQLite by a prepared statement (Tandem's one handshake query), a `sub`
 * frame that joins the one channel, and an `ack` for each. Its publications are the bytes Tandem
 * and bare ws send. Missing, and so priced by the ratio against it: admission (origin, per-IP and
 * node-wide limits), per-message rate limits, the auth timeout, the per-user connection cap,
 * channel policies, recovery positions, metrics and the state machine.
 *
 * Control endpoints: see common.ts (GET /tokens creates users and sessions and signs tokens).
 */
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import SQLite from 'better-sqlite3';
import { WebSocketServer, type WebSocket } from 'ws';
import { signJwt, verifyJwt } from '../common/jwt';
import { CHANNEL, EVENT, controlHandler, listenAndAnnounce, runPublications } from './common';

const database = new SQLite(':memory:');
database.exec(`
  create table users (id integer primary key, username text not null unique);
  create table sessions (id text primary key, user_id integer not null references users(id), revoked_at text);
`);
const insertUser = database.prepare<[number, string]>('insert or ignore into users (id, username) values (?, ?)');
const insertSession = database.prepare<[string, number]>('insert into sessions (id, user_id) values (?, ?)');
const liveSessionUser = database.prepare<[string], { user_id: number; username: string }>(
  'select sessions.user_id, users.username from sessions inner join users on users.id = sessions.user_id where sessions.id = ? and sessions.revoked_at is null',
);
const KID = 'k1';
const secret = randomBytes(32);
const keys = new Map([[KID, secret]]);

const subscribers = new Set<WebSocket>();
let connections = 0;
const wss = new WebSocketServer({ noServer: true, clientTracking: false, perMessageDeflate: false, handleProtocols: (protocols) => (protocols.has('tandem.v1') ? 'tandem.v1' : false) });

function onMessage(this: WebSocket & { uid?: number }, data: Buffer): void {
  let frame: { t?: unknown; id?: unknown; tok?: unknown; ch?: unknown };
  try {
    frame = JSON.parse(data.toString('utf8')) as typeof frame;
  } catch {
    return void this.close(4400, 'bad_frame');
  }
  if (frame.t === 'auth' && typeof frame.tok === 'string') {
    const claims = verifyJwt(frame.tok, keys);
    const row = claims === undefined ? undefined : liveSessionUser.get(claims.sid);
    if (claims === undefined || row === undefined || String(row.user_id) !== claims.sub) return void this.close(4401, 'token_invalid');
    this.uid = row.user_id;
    return this.send(`{"t":"ack","id":${JSON.stringify(frame.id)},"d":{"uid":${row.user_id},"exp":${claims.exp}}}`);
  }
  if (frame.t === 'sub' && frame.ch === CHANNEL && this.uid !== undefined) {
    subscribers.add(this);
    return this.send(`{"t":"ack","id":${JSON.stringify(frame.id)},"d":{"e":"floor","o":${offset}}}`);
  }
  this.send(`{"t":"err","id":${JSON.stringify(frame.id ?? null)},"c":"bad_request"}`);
}
function onClose(this: WebSocket): void {
  subscribers.delete(this);
  connections -= 1;
}

let offset = 0;
const server = http.createServer(
  controlHandler({
    stats: () => ({ connections, subscribed: subscribers.size }),
    tokens: async (from, count) => {
      const exp = Math.floor(Date.now() / 1000) + 7200;
      return Array.from({ length: count }, (_, i) => {
        const userId = from + i + 1;
        const sessionId = randomBytes(16).toString('base64url');
        insertUser.run(userId, `bench${userId}`);
        insertSession.run(sessionId, userId);
        return signJwt(KID, secret, { sub: String(userId), sid: sessionId, exp });
      });
    },
    publish: (params) =>
      runPublications(params, (events) => {
        for (const data of events) {
          const frame = `{"t":"pub","ch":${JSON.stringify(CHANNEL)},"o":${++offset},"ev":${JSON.stringify(EVENT)},"d":${JSON.stringify(data)}}`;
          for (const ws of subscribers) ws.send(frame);
        }
      }, offset + 1),
  }),
);
server.on('upgrade', (request, socket, head) => {
  if ((request.url ?? '').split('?')[0] !== '/realtime') return void socket.destroy();
  wss.handleUpgrade(request, socket, head, (ws) => {
    connections += 1;
    ws.on('message', onMessage);
    ws.on('close', onClose);
    ws.on('error', () => ws.terminate());
  });
});
listenAndAnnounce(server, 'ws-auth');
