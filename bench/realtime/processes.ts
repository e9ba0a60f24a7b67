/**
 * The realtime bench's child processes: spawned pinned (when possible) in their own process
 * groups with a raised fd limit, tracked, and killed whatever way this process ends; a watchdog
 * bounds the whole run.
 */
import type { ChildProcess } from 'node:child_process';
import { killAll, spawnTracked } from '../common/children';
import { canPin } from '../common/cpu';
import { ROOT, opts } from './settings';

const children = new Set<ChildProcess>();

/** Sends `signal` to every running child's process group. */
export function killChildren(signal: NodeJS.Signals): void {
  killAll(children, signal);
}

process.on('exit', () => killChildren('SIGKILL'));
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(signal, () => {
    process.stderr.write(`\nbench: ${signal}, stopping children\n`);
    killChildren('SIGKILL');
    process.exit(130);
  });
}
const watchdog = setTimeout(() => {
  process.stderr.write(`\nbench: still running after ${opts.maxSeconds} s, giving up\n`);
  killChildren('SIGKILL');
  process.exit(2);
}, opts.maxSeconds * 1000);
watchdog.unref();

/** SIGTERM (servers exit cleanly, so a --cpu-prof profile gets written), SIGKILL after `ms`. */
export async function stop(child: ChildProcess, ms = 15_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = new Promise<void>((resolve) => setTimeout(resolve, ms).unref());
  await Promise.race([exited, timer]);
  if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
}

export const pinned = canPin(opts.serverCpu, opts.loadCpu);

/**
 * Spawns `node [nodeArgs] --import tsx <script>` through `sh` (to raise the fd limit to the hard
 * limit: 10,000 sockets need more than many defaults), pinned with taskset when possible, in its
 * own process group. `exec` keeps one pid all the way down to node. `extraEnv` is added to the
 * environment (which loses NODE_OPTIONS and TANDEM_*).
 */
export function spawnNode(script: string, cpu: number, nodeArgs: string[], ipc: boolean, extraEnv: NodeJS.ProcessEnv = {}): ChildProcess {
  const argv = [...(pinned ? ['taskset', '-c', String(cpu)] : []), process.execPath, ...nodeArgs, '--import', 'tsx', script];
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) if (key !== 'NODE_OPTIONS' && !key.startsWith('TANDEM_')) env[key] = value;
  Object.assign(env, extraEnv);
  return spawnTracked(children, 'sh', ['-c', 'ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$@"', 'sh', ...argv], ROOT, env, ipc);
}
