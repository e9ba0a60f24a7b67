/**
 * Child processes of a bench runner: each is started detached (it leads its own process group),
 * so killing the group also stops whatever it started (taskset, sh, node).
 */
import { spawn, type ChildProcess } from 'node:child_process';

/**
 * Spawns `command args` detached (its own process group) in `cwd`, adds it to `children` until it
 * exits; with `ipc` it shares this process's stdout and stderr and gets an IPC channel, else its
 * stdout is piped (see waitForLine) and its stderr shared.
 */
export function spawnTracked(children: Set<ChildProcess>, command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv, ipc: boolean): ChildProcess {
  const child = spawn(command, args, {
    cwd,
    env,
    detached: true,
    stdio: ipc ? ['ignore', 'inherit', 'inherit', 'ipc'] : ['ignore', 'pipe', 'inherit'],
  });
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

/** Sends `signal` to the process group of every child still running, or to the child itself. */
export function killAll(children: Iterable<ChildProcess>, signal: NodeJS.Signals): void {
  for (const child of children) {
    if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) continue;
    try {
      process.kill(-child.pid, signal); // each child leads its own process group (detached)
    } catch {
      try {
        child.kill(signal);
      } catch {
        /* already gone */
      }
    }
  }
}

/** Resolves with the first stdout match of `pattern`; rejects if the child exits first or after `ms`. */
export function waitForLine(child: ChildProcess, pattern: RegExp, what: string, ms = 60_000): Promise<RegExpMatchArray> {
  return new Promise((resolve, reject) => {
    let buffer = '';
    const timer = setTimeout(() => reject(new Error(`${what} did not start within ${ms / 1000} s`)), ms);
    const onData = (chunk: Buffer) => {
      buffer += chunk.toString('utf8');
      const match = pattern.exec(buffer);
      if (match) {
        clearTimeout(timer);
        child.stdout?.off('data', onData);
        child.stdout?.resume(); // keep draining so the child never blocks on a full pipe
        resolve(match);
      }
    };
    child.stdout?.on('data', onData);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${what} exited early (code ${code}, signal ${signal})`));
    });
  });
}

/** Calls `stop` once the process that started this one is gone (a runner killed without cleaning up). */
export function whenParentGone(stop: () => void, everyMs = 500): void {
  const parent = process.ppid;
  setInterval(() => {
    if (process.ppid !== parent) stop();
  }, everyMs).unref();
}
