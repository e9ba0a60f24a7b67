/**
 * The REST bench's child processes: spawned pinned (when possible) in their own process groups,
 * tracked, and killed whatever way this process ends; plus the temporary data dir, removed on exit.
 */
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { killAll, spawnTracked } from '../common/children';
import { canPin } from '../common/cpu';
import { HERE, ROOT, opts } from './settings';

const children = new Set<ChildProcess>();
let tempDir: string | undefined;

/** A fresh temporary directory (prefix `prefix`), deleted by removeTempDir or on exit. */
export function makeTempDir(prefix: string): string {
  tempDir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  return tempDir;
}

export function removeTempDir(): void {
  if (tempDir === undefined) return;
  fs.rmSync(tempDir, { recursive: true, force: true });
  tempDir = undefined;
}

process.on('exit', () => {
  killAll(children, 'SIGKILL');
  removeTempDir();
});
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(signal, () => {
    process.stderr.write(`\nbench: ${signal}, stopping children\n`);
    killAll(children, 'SIGKILL');
    process.exit(130);
  });
}

/** SIGTERM to every child, SIGKILL to those still running after 5 s. */
export async function stopAll(): Promise<void> {
  const exits = [...children].filter((c) => c.exitCode === null && c.signalCode === null).map((c) => new Promise<void>((resolve) => c.once('exit', () => resolve())));
  killAll(children, 'SIGTERM');
  const timeout = new Promise<void>((resolve) => setTimeout(resolve, 5000).unref());
  await Promise.race([Promise.all(exits), timeout]);
  killAll(children, 'SIGKILL');
}

export const pinned = canPin(opts.serverCpu, opts.loadCpu);

/**
 * Spawns `node --import tsx <script>`, pinned to `cpu` when possible, as its own process group,
 * with exit-with-parent.ts preloaded so it stops by itself if this runner dies.
 */
export function spawnNode(script: string, cpu: number, env: NodeJS.ProcessEnv, nodeArgs: string[] = [], ipc = false): ChildProcess {
  const watchdog = pathToFileURL(path.join(HERE, 'exit-with-parent.ts')).href;
  const nodeArgv = [...nodeArgs, '--import', 'tsx', '--import', watchdog, script];
  const [command, args] = pinned ? ['taskset', ['-c', String(cpu), process.execPath, ...nodeArgv]] : [process.execPath, nodeArgv];
  return spawnTracked(children, command, args as string[], ROOT, env, ipc);
}

/** This process's environment without anything that would reconfigure Tandem or node in a child. */
export function baseEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (key.startsWith('TANDEM_') || key === 'DATABASE_URL' || key === 'NODE_OPTIONS' || key === 'PORT' || key === 'HOST') continue;
    env[key] = value;
  }
  return env;
}
