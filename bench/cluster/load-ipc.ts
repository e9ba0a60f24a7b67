/**
 * The runner's side of a load process (load-clients.ts, publisher.ts): started pinned to the load
 * core with an IPC channel; `send` returns one promise per command.
 */
import { ipcWorker, type IpcWorker } from '../common/ipc';
import { spawnNode, stop } from './processes';
import { opts } from './settings';

export interface LoadProcess<C> extends IpcWorker<C> {
  close(): Promise<void>;
}

export async function startLoad<C extends { cmd: string }>(script: string, name: string): Promise<LoadProcess<C>> {
  const child = spawnNode(script, opts.loadCpu, ['--max-old-space-size=2048'], true);
  const worker = await ipcWorker<C>(child, name);
  return {
    ...worker,
    async close() {
      if (child.connected) child.send({ cmd: 'exit', id: 0 });
      await stop(child, 3000);
    },
  };
}
