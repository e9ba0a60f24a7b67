/**
 * A polling client: GET its resource every `intervalMs` on a fixed schedule (a browser's
 * setInterval: a tick that finds the previous poll still out is skipped), over its own keep-alive
 * connection, as Tandem's RestClient asks (Accept: application/json, the bearer token, and with
 * `conditional` the ETag it holds in If-None-Match, so an unchanged resource answers 304).
 */
import http from 'node:http';
import { nowMicros } from '../clock';
import type { Observations } from '../observations';

export interface PollerOptions {
  base: URL;
  /** The resource's path (/api/items/:id, or /api/my/items/:id with a token). */
  path: string;
  token: string | undefined;
  conditional: boolean;
  intervalMs: number;
  headers: Record<string, string>;
  /** This client's number in the observations. */
  index: number;
  observations: Observations;
  onError(error: Error): void;
}

export class Poller {
  readonly #options: PollerOptions;
  readonly #agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  #etag: string | undefined;
  #inFlight: Promise<void> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;
  #skipped = 0;

  constructor(options: PollerOptions) {
    this.#options = options;
  }

  /** Ticks that found the previous poll still out. */
  get skipped(): number {
    return this.#skipped;
  }

  /** The first poll (a 200: the client now has the resource), then polls every interval from `phaseMs` on. */
  async connect(phaseMs: number): Promise<void> {
    await this.#poll(true);
    this.#schedule(this.#options.intervalMs, phaseMs);
  }

  /** Polls `factor` times as often from now on (the warm-up), or at the set interval again with 1. */
  setPace(factor: number): void {
    const interval = this.#options.intervalMs / factor;
    this.#schedule(interval, Math.random() * interval);
  }

  /** Ticks every `intervalMs` from `phaseMs` on, on a fixed schedule. */
  #schedule(intervalMs: number, phaseMs: number): void {
    clearTimeout(this.#timer);
    const start = performance.now() + phaseMs;
    let tick = 0;
    const next = () => {
      if (this.#stopped) return;
      this.#timer = setTimeout(() => {
        if (this.#inFlight === undefined) this.#inFlight = this.#poll(false).finally(() => (this.#inFlight = undefined));
        else this.#skipped += 1;
        next();
      }, Math.max(0, start + tick++ * intervalMs - performance.now()));
    };
    next();
  }

  async close(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#inFlight;
    this.#agent.destroy();
  }

  #poll(first: boolean): Promise<void> {
    const { base, path, token, conditional, headers, index, observations } = this.#options;
    const request: Record<string, string> = { ...headers, accept: 'application/json' };
    if (token !== undefined) request.authorization = `Bearer ${token}`;
    if (conditional && this.#etag !== undefined) request['if-none-match'] = this.#etag;
    return new Promise<void>((resolve, reject) => {
      const req = http.request({ host: base.hostname, port: base.port, path, method: 'GET', headers: request, agent: this.#agent, timeout: 30_000 }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.once('end', () => {
          const at = nowMicros();
          const status = res.statusCode ?? 0;
          if (status === 200) {
            this.#etag = res.headers.etag;
            observations.record(index, (JSON.parse(Buffer.concat(chunks).toString('utf8')) as { version: number }).version, at, status);
          } else if (status === 304) {
            observations.record(index, -1, at, status);
          } else {
            return fail(new Error(`GET ${path} answered ${status}`));
          }
          resolve();
        });
        res.once('error', fail);
      });
      const fail = (error: Error) => {
        // The first poll must work; later failures are counted and the schedule goes on.
        if (first) return reject(error);
        this.#options.onError(error);
        resolve();
      };
      req.once('timeout', () => req.destroy(new Error(`GET ${path}: no answer within 30 s`)));
      req.once('error', fail);
      req.end();
    });
  }
}
