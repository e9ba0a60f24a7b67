/**
 * The runner's side of the load generator (load-worker.ts, its own pinned process): starts it
 * and sends it jobs over IPC, one promise per job.
 */
import type { ChildProcess } from 'node:child_process';
import path from 'node:path';
import type { LoadJob, LoadResult } from './load-worker';
import { baseEnv, spawnNode } from './processes';
import { opts } from './settings';

export interface LoadWorker {
  child: ChildProcess;
  pid: number;
  run(job: Omit<LoadJob, 'id'>): Promise<LoadResult>;
}

type WorkerMessage = { ok: true; result: LoadResult } | { ok: false; id: number; error: string };

export async function startLoadWorker(): Promise<LoadWorker> {
  const child = spawnNode(path.join('bench', 'rest', 'load-worker.ts'), opts.loadCpu, baseEnv(), [], true);
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('load worker did not start within 60 s')), 60_000);
    child.once('message', () => {
      clearTimeout(timer);
      resolve();
    });
    child.once('exit', (code) => reject(new Error(`load worker exited early (code ${code})`)));
  });
  let nextId = 1;
  const pending = new Map<number, { resolve: (r: LoadResult) => void; reject: (e: Error) => void }>();
  child.on('message', (message: WorkerMessage) => {
    if (message.ok) {
      pending.get(message.result.id)?.resolve(message.result);
      pending.delete(message.result.id);
    } else {
      pending.get(message.id)?.reject(new Error(`load worker: ${message.error}`));
      pending.delete(message.id);
    }
  });
  child.once('exit', (code) => {
    for (const p of pending.values()) p.reject(new Error(`load worker exited (code ${code})`));
    pending.clear();
  });
  return {
    child,
    pid: child.pid!,
    run: (job) =>
      new Promise((resolve, reject) => {
        const id = nextId++;
        pending.set(id, { resolve, reject });
        child.send({ ...job, id });
      }),
  };
}
