/**
 * The unrelated reader's process (pinned to the load core, beside the clients): one GET of a
 * small API resource every `intervalMs`, on a fixed schedule whatever the answers take (open
 * loop: a slow answer does not hide the requests that would have waited behind it), over
 * keep-alive connections from its own address. `collect` hands over the samples so far.
 */
import http from 'node:http';
import { nowMicros } from '../cluster/wire';
import { serveCommands } from './commands';

export interface ReaderSample {
  /** nowMicros() when the request was sent. */
  at: number;
  /** Time to the whole answer, µs (null when it failed). */
  us: number | null;
  /** The HTTP status, or the error's code. */
  result: string;
}

export type ReaderCommand = { cmd: 'start'; url: string; intervalMs: number; address: string } | { cmd: 'collect' } | { cmd: 'stop' } | { cmd: 'exit' };

let samples: ReaderSample[] = [];
let timer: NodeJS.Timeout | undefined;
let agent: http.Agent | undefined;

function one(url: string): void {
  const at = nowMicros();
  const done = (result: string, ok: boolean) => samples.push({ at, us: ok ? nowMicros() - at : null, result });
  const req = http.get(url, { agent, timeout: 30_000 }, (res) => {
    res.resume();
    res.on('end', () => done(String(res.statusCode), res.statusCode === 200));
    res.on('error', (error: NodeJS.ErrnoException) => done(error.code ?? 'error', false));
  });
  req.on('timeout', () => req.destroy(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' })));
  req.on('error', (error: NodeJS.ErrnoException) => done(error.code ?? 'error', false));
}

serveCommands<ReaderCommand>((command) => {
  switch (command.cmd) {
    case 'start': {
      agent = new http.Agent({ keepAlive: true, maxSockets: 64, localAddress: command.address });
      const t0 = Date.now();
      let sent = 0;
      const tick = () => {
        one(command.url);
        sent++;
        timer = setTimeout(tick, Math.max(0, t0 + sent * command.intervalMs - Date.now()));
      };
      tick();
      return true;
    }
    case 'collect': {
      const out = samples;
      samples = [];
      return out;
    }
    case 'stop':
      clearTimeout(timer);
      agent?.destroy();
      return true;
    case 'exit':
      return true;
  }
});
