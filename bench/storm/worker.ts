/**
 * The runner's side of a storm-bench worker process (the clients, the reader): it starts it
 * pinned to the load core with an IPC channel and sends it commands, one promise each; the
 * worker answers each command with its handler's result (commands.ts).
 */
import type { ChildProcess } from 'node:child_process';
import { spawnNode, stop } from '../realtime/processes';
import { opts } from './settings';

type Reply = { id: number; ok: true; result: unknown } | { id: number; ok: false; error: string };

export interface Worker<C> {
  pid: number;
  send<T>(command: C): Promise<T>;
  close(): Promise<void>;
}

export async function startWorker<C extends { cmd: string }>(script: string, name: string): Promise<Worker<C>> {
  const child: ChildProcess = spawnNode(script, opts.loadCpu, ['--max-old-space-size=3072'], true);
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  let nextId = 1;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} did not start within 60 s`)), 60_000);
    child.once('message', () => (clearTimeout(timer), resolve()));
    child.once('exit', (code) => reject(new Error(`${name} exited early (code ${code})`)));
  });
  child.on('message', (reply: Reply) => {
    const p = pending.get(reply.id);
    if (p === undefined) return;
    pending.delete(reply.id);
    if (reply.ok) p.resolve(reply.result);
    else p.reject(new Error(`${name}: ${reply.error}`));
  });
  child.on('error', () => undefined);
  child.once('exit', (code, signal) => {
    for (const p of pending.values()) p.reject(new Error(`${name} exited (code ${code}, signal ${signal})`));
    pending.clear();
  });
  return {
    pid: child.pid!,
    send: <T>(command: C) => new Promise<T>((resolve, reject) => {
      if (!child.connected) return reject(new Error(`${name} is gone`));
      const id = nextId++;
      pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      child.send({ ...command, id });
    }),
    async close() {
      if (child.connected) child.send({ cmd: 'exit', id: 0 });
      await stop(child, 5000);
    },
  };
}
