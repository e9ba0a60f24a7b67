/**
 * The runner's side of a bench worker process (load clients, the publisher, the storm's clients
 * and reader): commands go over the child's IPC channel, one promise each, answered by
 * `{id, ok, result | error}`. The child says it is ready with a first message of any kind.
 */
import type { ChildProcess } from 'node:child_process';

type Reply = { id: number; ok: true; result: unknown } | { id: number; ok: false; error: string };

export interface IpcWorker<C> {
  pid: number;
  child: ChildProcess;
  send<T>(command: C): Promise<T>;
}

/** Waits (up to 60 s) for the child's first message, then returns its command channel. */
export async function ipcWorker<C extends object>(child: ChildProcess, name: string): Promise<IpcWorker<C>> {
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
  // A send to a child that just died reports through send's callback, not as a crash.
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
  };
}
