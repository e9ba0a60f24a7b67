/**
 * The runner's side of the load clients (clients.ts, its own pinned process): starts it and
 * sends it commands over IPC, one promise per command.
 */
import type { ChildProcess } from 'node:child_process';
import type { ClientCommand, ClientReply } from './clients';
import { spawnNode } from './processes';
import { opts } from './settings';

export interface Clients {
  pid: number;
  child: ChildProcess;
  send<T>(command: ClientCommand): Promise<T>;
}

export async function startClients(): Promise<Clients> {
  const child = spawnNode('bench/realtime/clients.ts', opts.loadCpu, ['--max-old-space-size=2048'], true);
  let nextId = 1;
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  const ready = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('load clients did not start within 60 s')), 60_000);
    child.once('message', () => {
      clearTimeout(timer);
      resolve();
    });
    child.once('exit', (code) => reject(new Error(`load clients exited early (code ${code})`)));
  });
  child.on('message', (reply: ClientReply) => {
    const p = pending.get(reply.id);
    if (p === undefined) return;
    pending.delete(reply.id);
    if (reply.ok) p.resolve(reply.result);
    else p.reject(new Error(`load clients: ${reply.error}`));
  });
  child.once('exit', (code, signal) => {
    for (const p of pending.values()) p.reject(new Error(`load clients exited (code ${code}, signal ${signal})`));
    pending.clear();
  });
  await ready;
  return {
    pid: child.pid!,
    child,
    send: <T>(command: ClientCommand) =>
      new Promise<T>((resolve, reject) => {
        const id = nextId++;
        pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
        child.send({ ...command, id });
      }),
  };
}
