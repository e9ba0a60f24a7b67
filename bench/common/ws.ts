import type { IncomingMessage } from 'node:http';
import { WebSocket } from 'ws';

/** 1 + the newlines of a coalesced tandem.v1 message: its frame count, without parsing it. */
export function countFrames(data: Buffer): number {
  let n = 1;
  let i = data.indexOf(10);
  while (i !== -1) {
    n++;
    i = data.indexOf(10, i + 1);
  }
  return n;
}

/** Closes `ws` and resolves once it is closed; a peer that does not answer within 5 s is cut. */
export function closeWs(ws: WebSocket): Promise<void> {
  return new Promise((resolve) => {
    if (ws.readyState === WebSocket.CLOSED) return resolve();
    const timer = setTimeout(() => {
      ws.terminate();
      resolve();
    }, 5000);
    ws.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
    ws.close();
  });
}

/**
 * Reports how a connection attempt failed before it opened: `HTTP <status>` (with the answer's
 * Retry-After in ms) for a refused handshake, else the socket error's code (ECONNREFUSED, …).
 */
export function onAttemptFailure(ws: WebSocket, fail: (why: string, retryAfterMs?: number) => void): void {
  ws.on('unexpected-response', (_req, res: IncomingMessage) => {
    const retryAfter = Number(res.headers['retry-after']);
    res.resume();
    fail(`HTTP ${res.statusCode}`, Number.isFinite(retryAfter) ? retryAfter * 1000 : undefined);
  });
  ws.on('error', (error) => fail((error as NodeJS.ErrnoException).code ?? error.message.slice(0, 40)));
}
