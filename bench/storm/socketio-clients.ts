/**
 * The Socket.IO storm clients (in the clients process): real `socket.io-client` 4.8 sockets, one
 * Manager each (`forceNew`), WebSocket transport, each from one of the source addresses
 * (`localAddress`, passed through engine.io-client to `ws`), with the client's own reconnection
 * as shipped: 1 s growing to 5 s, ±50% jitter. A client is back at its first `connect` after the
 * restart began. Socket.IO has no recovery of missed messages across a restart (its
 * connection-state recovery lives in the server's memory), so only reconnection is measured.
 */
import { io, type Socket } from 'socket.io-client';
import { nowMicros } from '../cluster/wire';
import { bump, emptyStats, type StormStats } from './storm-stats';

interface Client {
  socket: Socket;
  down: boolean;
  doneAt: number | undefined;
}

const clients: Client[] = [];
let armed = false;
let stats: StormStats = emptyStats();
let onDone: (() => void) | undefined;

/** engine.io-client's TransportError carries the ws error event as `description`. */
function reasonOf(error: Error): string {
  const description = (error as { description?: { error?: { code?: string }; message?: string } }).description;
  return description?.error?.code ?? description?.message?.slice(0, 40) ?? error.message.slice(0, 40);
}

function open(base: string, address: string): Promise<Client> {
  return new Promise((resolve, reject) => {
    const socket = io(base, { forceNew: true, transports: ['websocket'], localAddress: address } as Parameters<typeof io>[1]);
    const client: Client = { socket, down: false, doneAt: undefined };
    const timer = setTimeout(() => reject(new Error('no connect within 30 s')), 30_000);
    socket.once('connect', () => {
      clearTimeout(timer);
      resolve(client);
    });
    socket.on('disconnect', () => {
      client.down = true;
    });
    socket.on('connect', () => {
      if (!armed || !client.down || client.doneAt !== undefined) return;
      client.doneAt = nowMicros();
      stats.doneAt.push(client.doneAt);
      onDone?.();
    });
    socket.io.on('reconnect_attempt', () => {
      if (armed) stats.attempts++;
    });
    socket.io.on('reconnect_error', (error) => {
      if (armed) bump(stats.failed, reasonOf(error));
    });
  });
}

/** Opens `count` clients to `base` spread over `addresses`, `concurrency` at a time; each joins the room on connect. */
export async function connectSocketIo(base: string, count: number, addresses: readonly string[], concurrency = 200): Promise<{ ms: number }> {
  const started = Date.now();
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const i = next++;
      clients.push(await open(base, addresses[i % addresses.length]!));
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return { ms: Date.now() - started };
}

export function armSocketIo(): void {
  armed = true;
  stats = emptyStats();
  for (const client of clients) {
    client.down = false;
    client.doneAt = undefined;
  }
}

/** Resolves with the counters once every client has reconnected, or after `timeoutMs`. */
export function waitSocketIo(timeoutMs: number): Promise<StormStats> {
  return new Promise((resolve) => {
    const finish = () => {
      clearTimeout(timer);
      onDone = undefined;
      stats.clients = clients.length;
      stats.notBack = clients.filter((c) => c.doneAt === undefined).length;
      resolve(stats);
    };
    const timer = setTimeout(finish, timeoutMs);
    onDone = () => {
      if (stats.doneAt.length === clients.length) finish();
    };
    onDone();
  });
}

export function closeSocketIo(): void {
  armed = false;
  for (const client of clients.splice(0)) client.socket.disconnect();
}
