/**
 * A server under test (Tandem, bare ws, Socket.IO or ws framed once): started on a free port and
 * driven through its HTTP control endpoints (/stats, /mem, /publish; see common.ts).
 */
import type { ChildProcess } from 'node:child_process';
import { waitForLine } from '../common/children';
import type { ServerKind } from './clients';
import { HOST, type ServerStats } from './common';
import { spawnNode } from './processes';
import { LABEL, SCRIPT, opts, tandemWithSse } from './settings';

export interface RunningServer {
  kind: ServerKind;
  child: ChildProcess;
  pid: number;
  base: string;
}

export async function startServer(kind: ServerKind): Promise<RunningServer> {
  const isTandem = kind === 'tandem' || kind === 'tandem-sse';
  const nodeArgs = ['--expose-gc', ...opts.serverNodeArgs, ...(isTandem ? opts.tandemNodeArgs : [])];
  const child = spawnNode(SCRIPT[kind], opts.serverCpu, nodeArgs, false, isTandem && tandemWithSse() ? { BENCH_TANDEM_SSE: '1' } : {});
  const match = await waitForLine(child, /listening on (\d+)/, `${LABEL[kind]} server`);
  return { kind, child, pid: child.pid!, base: `http://${HOST}:${match[1]}` };
}

/** One call to a control endpoint; a non-2xx answer throws with the server's error. */
export async function control<T>(server: RunningServer, method: 'GET' | 'POST', pathAndQuery: string, timeoutMs = 300_000): Promise<T> {
  const response = await fetch(`${server.base}${pathAndQuery}`, { method, signal: AbortSignal.timeout(timeoutMs) });
  const body = (await response.json()) as T & { error?: string };
  if (!response.ok) throw new Error(`${LABEL[server.kind]} ${method} ${pathAndQuery}: ${response.status} ${body.error ?? ''}`);
  return body;
}

/** Polls /stats until the server has exactly `count` connections, all subscribed. */
export async function waitSubscribed(server: RunningServer, count: number, timeoutMs = 30_000): Promise<ServerStats> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const stats = await control<ServerStats>(server, 'GET', '/stats');
    if (stats.subscribed === count && stats.connections === count) return stats;
    if (Date.now() > deadline) throw new Error(`${LABEL[server.kind]}: expected ${count} subscribed connections, server reports ${JSON.stringify(stats)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
