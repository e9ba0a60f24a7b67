/**
 * CPU pinning (taskset) and CPU accounting from /proc, for saying which side of a bench was
 * saturated. Without Linux, taskset or /proc the readers return undefined and callers report n/a.
 */
import { spawnSync, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';

/** Whether processes can be pinned to `serverCpu` and `loadCpu` (Linux, 2+ CPUs, a working taskset). */
export function canPin(serverCpu: number, loadCpu: number): boolean {
  if (process.platform !== 'linux' || os.availableParallelism() < 2) return false;
  const a = spawnSync('taskset', ['-c', String(serverCpu), 'true'], { stdio: 'ignore' });
  const b = spawnSync('taskset', ['-c', String(loadCpu), 'true'], { stdio: 'ignore' });
  return a.status === 0 && b.status === 0;
}

function clockTicks(): number {
  try {
    const value = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
    return Number.isFinite(value) && value > 0 ? value : 100;
  } catch {
    return 100;
  }
}
const CLK_TCK = clockTicks();
const procAvailable = fs.existsSync('/proc/self/stat');

/**
 * utime + stime of a process (all its threads), in microseconds; undefined without /proc.
 * Throws when the process is gone.
 */
export function cpuMicrosOf(pid: number): number | undefined {
  if (!procAvailable) return undefined;
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Field 2 (comm) may contain spaces; everything after the last ')' is space-separated from field 3.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  return ((utime + stime) * 1e6) / CLK_TCK;
}

export interface CoreTicks {
  busy: number;
  irq: number;
  total: number;
}

/** Busy and total jiffies of one CPU from /proc/stat (busy = everything but idle and iowait). */
export function coreTicks(cpu: number): CoreTicks | undefined {
  if (!procAvailable) return undefined;
  const line = fs.readFileSync('/proc/stat', 'utf8').split('\n').find((l) => l.startsWith(`cpu${cpu} `));
  if (line === undefined) return undefined;
  const v = line.trim().split(/\s+/).slice(1, 9).map(Number);
  const total = v.reduce((a, b) => a + b, 0);
  return { busy: total - (v[3] ?? 0) - (v[4] ?? 0), irq: (v[5] ?? 0) + (v[6] ?? 0), total };
}

/** Share of the CPU's time between two readings spent busy (or in interrupts, `field` 'irq'); null when unknown. */
export function coreBusy(before: CoreTicks | undefined, after: CoreTicks | undefined, field: 'busy' | 'irq' = 'busy'): number | null {
  if (before === undefined || after === undefined || after.total === before.total) return null;
  return (after[field] - before[field]) / (after.total - before.total);
}
