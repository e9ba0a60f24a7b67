/**
 * Preloaded (`--import`) into the processes bench/rest/run.ts starts: if the runner dies without
 * cleaning up (SIGKILL, a crash), its children notice within a second and stop themselves
 * (SIGTERM: Tandem drains and exits, the bare server closes, the load worker exits).
 */
const runnerPid = process.ppid;
setInterval(() => {
  if (process.ppid !== runnerPid) process.kill(process.pid, 'SIGTERM');
}, 1000).unref();

export {};
