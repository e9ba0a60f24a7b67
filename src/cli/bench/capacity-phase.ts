/**
 * After poll-etag's clients have gone: how many conditional GETs a second the server answers when
 * it does nothing else, and its CPU per answer then. A server at its limit handles requests in
 * batches, each far cheaper than one that arrives alone; this is the price "10,000 requests a
 * second" quotes, next to the price at the workload's own pace.
 */
import http from 'node:http';
import { runCapacityProbe } from './clients/capacity';
import { fetchHeaders, PAGE } from './clients/headers';
import type { ControlClient } from './control';
import type { BenchOptions } from './options';
import type { StrategyResult } from './report';

/** Connections of the probe: enough to keep one server core busy over loopback. */
const PROBE_CONNECTIONS = 16;

function firstEtag(base: URL, path: string, headers: Record<string, string>): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: base.hostname, port: base.port, path, headers, agent: false }, (res) => {
      res.resume();
      const tag = res.headers.etag;
      res.once('end', () => (res.statusCode === 200 && tag !== undefined ? resolve(tag) : reject(new Error(`GET ${path} answered ${res.statusCode} without an ETag`))));
    });
    req.once('error', reject);
  });
}

export async function measureCapacity(options: BenchOptions, control: ControlClient, base: URL, itemId: number, token: string): Promise<NonNullable<StrategyResult['capacity']>> {
  const path = options.pollWithToken ? `/api/my/items/${itemId}` : `/api/items/${itemId}`;
  const headers: Record<string, string> = { ...fetchHeaders(options.headerProfile, base.origin, PAGE), accept: 'application/json' };
  if (options.pollWithToken) headers.authorization = `Bearer ${token}`;
  const startedAt = new Date().toISOString();
  headers['if-none-match'] = await firstEtag(base, path, headers);
  const seconds = options.quick ? 1 : 3;
  const before = await control.stats();
  const { errors } = await runCapacityProbe({ base, path, headers, connections: PROBE_CONNECTIONS, seconds });
  const after = await control.stats();
  const elapsed = (after.now - before.now) / 1e6;
  const requests = after.requests - before.requests;
  const cpuMs = (after.cpuMicros - before.cpuMicros) / 1000;
  return {
    requestsPerSecond: Math.round(requests / elapsed),
    serverCpuMsPerRequest: requests > 0 ? Math.round((cpuMs / requests) * 1e6) / 1e6 : 0,
    serverCpuShare: Math.round((cpuMs / (elapsed * 1000)) * 1000) / 1000,
    connections: PROBE_CONNECTIONS,
    errors,
    startedAt,
    finishedAt: new Date().toISOString(),
  };
}
