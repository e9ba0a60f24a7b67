/**
 * The load generator of the REST benchmark, in its own process (pinned to its own core by
 * bench/rest/run.ts). It waits for jobs over IPC, runs autocannon in-process for each and
 * answers with the result plus its own CPU time, so the runner can tell which side was
 * saturated.
 */
import { createRequire } from 'node:module';

/** The slice of autocannon's (untyped) API this worker uses. */
interface AutocannonResult {
  requests: { total: number };
  duration: number;
  statusCodeStats?: Record<string, { count: number }>;
  errors: number;
  timeouts: number;
  latency: { p50: number; p99: number; max: number };
}
type Autocannon = (
  options: { url: string; method: string; headers: Record<string, string>; connections: number; pipelining: number; duration: number },
  done: (error: Error | null, result: AutocannonResult) => void,
) => unknown;

const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon;

export interface LoadJob {
  id: number;
  url: string;
  headers: Record<string, string>;
  connections: number;
  pipelining: number;
  /** Seconds. */
  duration: number;
}

export interface LoadResult {
  id: number;
  /** Completed requests. */
  requests: number;
  /** Wall-clock seconds autocannon measured. */
  seconds: number;
  statusCodes: Record<string, number>;
  errors: number;
  timeouts: number;
  latencyMs: { p50: number; p99: number; max: number };
  /** CPU time this process spent (user + system) during the run, in microseconds. */
  cpuMicros: number;
  /** Wall-clock microseconds from start to end of the run, measured here. */
  wallMicros: number;
}

function run(job: LoadJob): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    const cpuBefore = process.cpuUsage();
    const wallBefore = process.hrtime.bigint();
    autocannon(
      {
        url: job.url,
        method: 'GET',
        headers: job.headers,
        connections: job.connections,
        pipelining: job.pipelining,
        duration: job.duration,
      },
      (error, result) => {
        const wallMicros = Number(process.hrtime.bigint() - wallBefore) / 1000;
        const cpu = process.cpuUsage(cpuBefore);
        if (error) return reject(error);
        const statusCodes: Record<string, number> = {};
        for (const [code, stats] of Object.entries(result.statusCodeStats ?? {})) statusCodes[code] = stats.count;
        resolve({
          id: job.id,
          requests: result.requests.total,
          seconds: result.duration,
          statusCodes,
          errors: result.errors,
          timeouts: result.timeouts,
          latencyMs: { p50: result.latency.p50, p99: result.latency.p99, max: result.latency.max },
          cpuMicros: cpu.user + cpu.system,
          wallMicros,
        });
      },
    );
  });
}

if (process.send === undefined) {
  process.stderr.write('load-worker: must be started with an IPC channel (by bench/rest/run.ts)\n');
  process.exit(2);
}

process.on('message', (message: LoadJob | { stop: true }) => {
  if ('stop' in message) {
    process.disconnect?.();
    process.exit(0);
  }
  run(message).then(
    (result) => process.send?.({ ok: true, result }),
    (error: unknown) => process.send?.({ ok: false, id: message.id, error: String(error) }),
  );
});
// Dies with the runner: when the IPC channel closes, nobody needs us.
process.on('disconnect', () => process.exit(0));
process.send({ ready: true });
