/**
 * The runner's side of a storm-bench worker process (the clients, the reader): it starts it
 * pinned to the load core with an IPC channel and sends it commands, one promise each; the
 * worker answers each command with its handler's result (commands.ts).
 */
import { ipcWorker, type IpcWorker } from '../common/ipc';
import { spawnNode, stop } from '../realtime/processes';
import { opts } from './settings';

export interface Worker<C> extends IpcWorker<C> {
  close(): Promise<void>;
}

export async function startWorker<C extends { cmd: string }>(script: string, name: string): Promise<Worker<C>> {
  const child = spawnNode(script, opts.loadCpu, ['--max-old-space-size=3072'], true);
  const worker = await ipcWorker<C>(child, name);
  return {
    ...worker,
    async close() {
      if (child.connected) child.send({ cmd: 'exit', id: 0 });
      await stop(child, 5000);
    },
  };
}
