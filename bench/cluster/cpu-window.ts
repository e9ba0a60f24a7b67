/**
 * CPU time of named groups of processes over a window: utime + stime from /proc/<pid>/stat before
 * and after, per group (a node, Redis, nginx, the PostgreSQL backends of the nodes, each load
 * process), plus how busy the server and load cores were (/proc/stat). A process that is gone by
 * the second reading (node B after kill -9) counts with its last reading taken before it died.
 */
import { coreBusy, coreTicks, cpuMicrosOf, type CoreTicks } from '../common/cpu';
import { opts } from './settings';

export type PidGroups = Record<string, readonly number[]>;

export interface CpuWindow {
  /** Group → µs of CPU in the window. */
  micros: Record<string, number>;
  seconds: number;
  /** Share of the server / load core busy in the window (null when unknown). */
  serverCore: number | null;
  loadCore: number | null;
}

function read(pid: number): number | undefined {
  try {
    return cpuMicrosOf(pid);
  } catch {
    return undefined;
  }
}

/** Starts a window now; `end()` closes it. `refresh()` re-reads (for a process about to be killed). */
export function openCpuWindow(groups: PidGroups): { refresh(): void; end(): CpuWindow } {
  const started = process.hrtime.bigint();
  const cores: [CoreTicks | undefined, CoreTicks | undefined] = [coreTicks(opts.serverCpu), coreTicks(opts.loadCpu)];
  const before = new Map<number, number | undefined>();
  const latest = new Map<number, number | undefined>();
  for (const pids of Object.values(groups)) for (const pid of pids) before.set(pid, read(pid));
  const refresh = () => {
    for (const pid of before.keys()) {
      const value = read(pid);
      if (value !== undefined) latest.set(pid, value);
    }
  };
  return {
    refresh,
    end() {
      refresh();
      const micros: Record<string, number> = {};
      for (const [group, pids] of Object.entries(groups)) {
        micros[group] = pids.reduce((sum, pid) => {
          const a = before.get(pid);
          const b = latest.get(pid);
          return a === undefined || b === undefined ? sum : sum + (b - a);
        }, 0);
      }
      return {
        micros,
        seconds: Number(process.hrtime.bigint() - started) / 1e9,
        serverCore: coreBusy(cores[0], coreTicks(opts.serverCpu)),
        loadCore: coreBusy(cores[1], coreTicks(opts.loadCpu)),
      };
    },
  };
}
