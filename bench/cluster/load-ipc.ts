/**
 * The runner's side of a load process (load-clients.ts, publisher.ts): started pinned to the load
 * core with an IPC channel; `send` returns one promise per command.
 */
import type { ChildProcess } from 'node:child_process';
import { spawnNode, stop } from './processes';
import { opts } from './settings';

export interface LoadProcess<C> {
  pid: number;
  child: ChildProcess;
  send<T>(command: C): Promise<T>;
  close(): Promise<void>;
}

type Reply = { id: number; ok: true; result: unknown } | { id: number; ok: false; error: string };

export async function startLoad<C extends { cmd: string }>(script: string, name: string): Promise<LoadProcess<C>> {
  const child = spawnNode(script, opts.loadCpu, ['--max-old-space-size=2048'], true);
  let nextId = 1;
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} did not start within 60 s`)), 60_000);
    child.once('message', () => {
      clearTimeout(timer);
      resolve();
    });
    child.once('exit', (code) => reject(new Error(`${name} exited early (code ${code})`)));
  });
  child.on('message', (reply: Reply) => {
    const p = pending.get(reply.id);
    if (p === undefined) return;
    pending.delete(reply.id);
    if (reply.ok) p.resolve(reply.result);
    else p.reject(new Error(`${name}: ${reply.error}`));
  });
  // A send to a child that just died reports through the callback above, not as a crash.
  child.on('error', () => undefined);
  child.once('exit', (code, signal) => {
    for (const p of pending.values()) p.reject(new Error(`${name} exited (code ${code}, signal ${signal})`));
    pending.clear();
  });
  return {
    pid: child.pid!,
    child,
    send: <T>(command: C) =>
      new Promise<T>((resolve, reject) => {
        if (!child.connected) return reject(new Error(`${name} is gone`));
        const id = nextId++;
        pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
        child.send({ ...command, id }, (error) => {
          if (error === null || !pending.has(id)) return;
          pending.delete(id);
          reject(error);
        });
      }),
    async close() {
      if (child.connected) child.send({ cmd: 'exit', id: nextId++ });
      await stop(child, 3000);
    },
  };
}
