/**
 * The runner's side of the load clients (clients.ts, its own pinned process): starts it and
 * sends it commands over IPC, one promise per command.
 */
import { ipcWorker, type IpcWorker } from '../common/ipc';
import type { ClientCommand } from './clients';
import { spawnNode } from './processes';
import { opts } from './settings';

export type Clients = IpcWorker<ClientCommand>;

export function startClients(): Promise<Clients> {
  return ipcWorker<ClientCommand>(spawnNode('bench/realtime/clients.ts', opts.loadCpu, ['--max-old-space-size=2048'], true), 'load clients');
}
