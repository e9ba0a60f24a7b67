/**
 * Every process the cluster bench starts, and everything it creates outside itself (schemas, Redis
 * keys, temp folders): tracked here and removed however the run ends — normally, on failure, on
 * Ctrl-C / SIGTERM, or when the watchdog (--max-seconds) fires. Children lead their own process
 * groups (so the group kill also stops sh/taskset wrappers) and also exit if the runner dies.
 */
import type { ChildProcess } from 'node:child_process';
import { killAll, spawnTracked } from '../common/children';
import { canPin } from '../common/cpu';
import { ROOT, opts } from './settings';

/** Tandem nodes and load processes: killed first when the run is cut short. */
const children = new Set<ChildProcess>();
/** redis-server and nginx: stopped by their clean-ups, after the keys in them are deleted. */
const services = new Set<ChildProcess>();
/** Async clean-ups (drop a schema, delete Redis keys), newest first. */
const cleanups: Array<{ what: string; run: () => Promise<void> }> = [];
let cleaning: Promise<void> | undefined;

export function log(line: string): void {
  process.stderr.write(`${line}\n`);
}

/** Registers a clean-up; returns a function that runs it now (once) and unregisters it. */
export function onCleanup(what: string, run: () => Promise<void>): () => Promise<void> {
  const entry = { what, run };
  cleanups.unshift(entry);
  return async () => {
    const index = cleanups.indexOf(entry);
    if (index === -1) return;
    cleanups.splice(index, 1);
    await run();
  };
}

/** Whether the run is being cut short (a signal, the watchdog or a failure): commands to children are pointless. */
export let aborting = false;

/**
 * Kills every node and load process (SIGKILL to its group), then runs every pending clean-up,
 * newest first, each bounded to 10 s: Redis keys, schemas, and last nginx and redis-server.
 */
export function cleanUpEverything(): Promise<void> {
  aborting = true;
  cleaning ??= (async () => {
    killAll(children, 'SIGKILL');
    while (cleanups.length > 0) {
      const { what, run } = cleanups.shift()!;
      const timeout = new Promise<void>((resolve) => setTimeout(() => {
        log(`bench:cluster: clean-up "${what}" timed out`);
        resolve();
      }, 10_000).unref());
      await Promise.race([run().catch((error: unknown) => log(`bench:cluster: clean-up "${what}" failed: ${String(error)}`)), timeout]);
    }
    killAll(services, 'SIGKILL');
  })();
  return cleaning;
}

process.on('exit', () => {
  killAll(children, 'SIGKILL');
  killAll(services, 'SIGKILL');
});
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(signal, () => {
    log(`\nbench:cluster: ${signal}, stopping every process and removing what the run created`);
    void cleanUpEverything().finally(() => process.exit(130));
  });
}
const watchdog = setTimeout(() => {
  log(`\nbench:cluster: still running after ${opts.maxSeconds} s (--max-seconds), giving up`);
  void cleanUpEverything().finally(() => process.exit(2));
}, opts.maxSeconds * 1000);
watchdog.unref();

export const pinned = canPin(opts.serverCpu, opts.loadCpu);

/** Whether a child is still running. */
export function running(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null;
}

/**
 * Spawns `argv` through `sh` (to raise the fd limit to the hard limit) with `exec`, so the pid
 * stays the program's, pinned to `cpu` with taskset when possible, in its own process group.
 * A `service` (redis-server, nginx) outlives the nodes while the run is cleaned up.
 */
export function spawnPinned(argv: string[], cpu: number, env: NodeJS.ProcessEnv, ipc: boolean, service = false): ChildProcess {
  const full = [...(pinned ? ['taskset', '-c', String(cpu)] : []), ...argv];
  return spawnTracked(service ? services : children, 'sh', ['-c', 'ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$@"', 'sh', ...full], ROOT, env, ipc);
}

/** `node [nodeArgs] --import tsx <script>`, in an environment without NODE_OPTIONS and TANDEM_* plus `extraEnv`. */
export function spawnNode(script: string, cpu: number, nodeArgs: string[], ipc: boolean, extraEnv: NodeJS.ProcessEnv = {}): ChildProcess {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) if (key !== 'NODE_OPTIONS' && !key.startsWith('TANDEM_') && key !== 'DATABASE_URL') env[key] = value;
  Object.assign(env, extraEnv);
  return spawnPinned([process.execPath, ...nodeArgs, '--import', 'tsx', script], cpu, env, ipc);
}

/** SIGTERM, then SIGKILL to the group after `ms`; resolves once the child is gone. */
export async function stop(child: ChildProcess, ms = 12_000): Promise<void> {
  if (!running(child)) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  await Promise.race([exited, new Promise<void>((resolve) => setTimeout(resolve, ms).unref())]);
  if (running(child)) {
    kill9(child);
    await exited;
  }
}

/** kill -9 of the child's process group (the node and its sh/taskset wrapper, which exec'd into it anyway). */
export function kill9(child: ChildProcess): void {
  if (child.pid === undefined || !running(child)) return;
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    try {
      child.kill('SIGKILL');
    } catch {
      /* gone */
    }
  }
}
