/**
 * The capacity probe: `connections` keep-alive connections each sending the next conditional GET
 * as soon as the last answer is in (a closed loop), for `seconds`, so the server answers 304s as
 * fast as it can. What "a server handles N requests per second" means, measured on this one.
 */
import http from 'node:http';

export interface ProbeOptions {
  base: URL;
  path: string;
  headers: Record<string, string>;
  connections: number;
  seconds: number;
}

/** Runs the probe; resolves with the answers received (any status) and the errors. */
export async function runCapacityProbe(options: ProbeOptions): Promise<{ answers: number; errors: number }> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: options.connections });
  const deadline = performance.now() + options.seconds * 1000;
  let answers = 0;
  let errors = 0;
  const get = () =>
    new Promise<void>((resolve) => {
      const req = http.request({ host: options.base.hostname, port: options.base.port, path: options.path, headers: options.headers, agent }, (res) => {
        res.resume();
        res.once('end', () => {
          answers += 1;
          resolve();
        });
      });
      req.once('error', () => {
        errors += 1;
        resolve();
      });
      req.end();
    });
  const loop = async () => {
    while (performance.now() < deadline && errors < 100) await get();
  };
  try {
    await Promise.all(Array.from({ length: options.connections }, loop));
  } finally {
    agent.destroy();
  }
  return { answers, errors };
}
