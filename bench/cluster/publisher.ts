/**
 * The publisher's process (pinned to the load core), driven by the runner over IPC: REST writes
 * (`POST /api/ticks/<n>`, bearer token, keep-alive) to one node at a fixed rate, on a drift-free
 * schedule that does not wait for the previous answer (up to `maxInFlight` at once). Each body
 * carries `ts`, the CLOCK_MONOTONIC µs at which the request was sent: the subscribers' latency is
 * measured from it, so it includes the REST write and its transaction, as a user would see it.
 */
import http from 'node:http';
import { nowMicros, percentile } from './wire';

export interface PublishCommand {
  cmd: 'publish';
  base: string;
  token: string;
  /** What follows `bench:` in the channel name. */
  channel: string;
  count: number;
  /** Publications per second. */
  rate: number;
  size: number;
  maxInFlight: number;
}

export interface PublishReport {
  /** nowMicros() of the first request sent, and of the last answer. */
  t0: number;
  t1: number;
  published: number;
  failures: number;
  lastOffset: number;
  /** REST answer time, ms. */
  restP50Ms: number | null;
  restP99Ms: number | null;
  /** How late the schedule ran at worst (the in-flight cap or a busy loop), ms. */
  maxLagMs: number;
}

type Reply = { id: number; ok: true; result: unknown } | { id: number; ok: false; error: string };

const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
let seq = 0;

function post(base: string, token: string, channel: string, body: string): Promise<{ status: number; offset: number }> {
  return new Promise((resolve, reject) => {
    const request = http.request(`${base}/api/ticks/${channel}`, {
      method: 'POST',
      agent,
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), authorization: `Bearer ${token}` },
    }, (response) => {
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (text += chunk));
      response.on('end', () => {
        let offset = 0;
        try {
          offset = (JSON.parse(text) as { offset?: number }).offset ?? 0;
        } catch {
          /* not JSON: a failure, counted by status */
        }
        resolve({ status: response.statusCode ?? 0, offset });
      });
    });
    request.on('error', reject);
    request.end(body);
  });
}

async function publish(c: PublishCommand): Promise<PublishReport> {
  const pad = 'x'.repeat(Math.max(0, c.size - 43));
  const intervalUs = 1e6 / c.rate;
  const rest: number[] = [];
  let inFlight = 0;
  let failures = 0;
  let published = 0;
  let lastOffset = 0;
  let maxLagMs = 0;
  let t1 = 0;
  let slot: (() => void) | undefined;
  const pending: Array<Promise<void>> = [];
  const t0 = nowMicros();
  for (let i = 0; i < c.count; i++) {
    const due = t0 + i * intervalUs;
    const wait = (due - nowMicros()) / 1000;
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    while (inFlight >= c.maxInFlight) await new Promise<void>((r) => (slot = r));
    const sentAt = nowMicros();
    maxLagMs = Math.max(maxLagMs, (sentAt - due) / 1000);
    seq += 1;
    // `ts` first, as the subscribers look for it.
    const body = `{"ts":${sentAt.toFixed(1)},"seq":${seq},"pad":"${pad}"}`;
    inFlight++;
    pending.push(post(c.base, c.token, c.channel, body).then(
      ({ status, offset }) => {
        if (status === 201) {
          published++;
          lastOffset = Math.max(lastOffset, offset);
        } else failures++;
      },
      () => void failures++,
    ).finally(() => {
      const at = nowMicros();
      rest.push((at - sentAt) / 1000);
      t1 = Math.max(t1, at);
      inFlight--;
      const next = slot;
      slot = undefined;
      next?.();
    }));
  }
  await Promise.all(pending);
  rest.sort((a, b) => a - b);
  return { t0, t1, published, failures, lastOffset, restP50Ms: percentile(rest, 50), restP99Ms: percentile(rest, 99), maxLagMs };
}

process.on('message', (message: PublishCommand & { id: number } | { cmd: 'exit'; id: number }) => {
  if (message.cmd === 'exit') {
    process.send?.({ id: message.id, ok: true, result: true } satisfies Reply);
    setImmediate(() => process.exit(0));
    return;
  }
  publish(message).then(
    (result) => process.send?.({ id: message.id, ok: true, result } satisfies Reply),
    (error: unknown) => process.send?.({ id: message.id, ok: false, error: error instanceof Error ? error.message : String(error) } satisfies Reply),
  );
});
process.on('disconnect', () => process.exit(0));
process.send?.({ id: 0, ok: true, result: 'ready' } satisfies Reply);
