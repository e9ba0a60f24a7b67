/**
 * The driver's side of the control API: JSON over its own keep-alive connection (never shared
 * with a measured client, so the server can leave it out of the counts), and the clock offset
 * between this process and the server.
 */
import http from 'node:http';
import { CONTROL_PREFIX, type ChangesRequest, type ClockReading, type CommitLog, type ServerInfo, type ServerStats, type SetupAnswer, type SetupRequest } from './control-api';
import { nowMicros } from './clock';

export class ControlError extends Error {}

export class ControlClient {
  readonly #base: URL;
  readonly #agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

  constructor(baseUrl: string) {
    this.#base = new URL(baseUrl);
  }

  /** Checks that the target is a bench server; a clear error when it is something else. */
  async info(): Promise<ServerInfo> {
    let info: ServerInfo;
    try {
      info = await this.#call<ServerInfo>('GET', 'info');
    } catch (error) {
      throw new ControlError(`${this.#base.origin} is not a tandem bench server (${(error as Error).message}); start one with \`tandem bench serve\``);
    }
    if (info.tool !== 'tandem bench server' || info.apiVersion !== 1) throw new ControlError(`${this.#base.origin} speaks another bench control API (${JSON.stringify(info).slice(0, 100)})`);
    return info;
  }

  /**
   * The server's clock minus ours, in µs: from the probe with the shortest round trip, whose
   * reading is taken as made halfway through it (error at most half that round trip).
   */
  async clockOffset(probes = 9): Promise<{ offset: number; uncertainty: number }> {
    let best = { offset: 0, uncertainty: Number.POSITIVE_INFINITY };
    for (let i = 0; i < probes; i += 1) {
      const sent = nowMicros();
      const { now } = await this.#call<ClockReading>('GET', 'clock');
      const received = nowMicros();
      const half = (received - sent) / 2;
      if (half < best.uncertainty) best = { offset: now - (sent + half), uncertainty: half };
    }
    return best;
  }

  setup(request: SetupRequest): Promise<SetupAnswer> {
    return this.#call('POST', 'setup', request);
  }

  startChanges(request: ChangesRequest): Promise<{ startedAt: number }> {
    return this.#call('POST', 'changes', request);
  }

  stopChanges(): Promise<CommitLog> {
    return this.#call('DELETE', 'changes');
  }

  /** The counters now; `memory: 'gc'` after a full GC, `'prime'` after growing the young generation to its full size too. */
  stats(memory?: 'gc' | 'prime'): Promise<ServerStats> {
    return this.#call('GET', memory === undefined ? 'stats' : memory === 'gc' ? 'stats?gc=1' : 'stats?gc=1&prime=1');
  }

  close(): void {
    this.#agent.destroy();
  }

  #call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const headers: http.OutgoingHttpHeaders = { accept: 'application/json' };
    if (payload !== undefined) Object.assign(headers, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) });
    const url = new URL(`${CONTROL_PREFIX}${path}`, this.#base);
    return new Promise<T>((resolve, reject) => {
      const request = http.request(url, { method, headers, agent: this.#agent, timeout: 120_000 }, (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.once('error', reject);
        response.once('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          if (response.statusCode !== 200) return reject(new ControlError(`${method} ${url.pathname} answered ${response.statusCode}: ${text.slice(0, 200)}`));
          try {
            resolve(JSON.parse(text) as T);
          } catch {
            reject(new ControlError(`${method} ${url.pathname} answered something other than JSON`));
          }
        });
      });
      request.once('timeout', () => request.destroy(new ControlError(`${method} ${url.pathname}: no answer within 120 s`)));
      request.once('error', reject);
      request.end(payload);
    });
  }
}
