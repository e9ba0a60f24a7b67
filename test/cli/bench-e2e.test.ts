import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BenchReport } from '../../src/cli/bench/report';

/**
 * One quick `tandem bench` run, end to end through the real command (bin/tandem.mjs): a bench
 * server (`tandem bench serve`), and between it and the bench a TCP proxy of this test's own that
 * counts every byte it relays, per connection. The report must have its shape, and each strategy's
 * byte totals, as the server's sockets counted them, must be exactly what the proxy relayed.
 */

const ROOT = path.resolve(import.meta.dirname, '../..');
const BIN = path.join(ROOT, 'bin/tandem.mjs');

interface Relayed {
  openedAt: number;
  /** The first bytes the client sent (to tell the bench's control connections apart). */
  head: string;
  up: number;
  down: number;
}

/** A TCP proxy to `target` that counts the bytes it relays each way, per connection. */
function countingProxy(target: { host: string; port: number }): Promise<{ port: number; connections: Relayed[]; close(): Promise<void> }> {
  const connections: Relayed[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const relayed: Relayed = { openedAt: Date.now(), head: '', up: 0, down: 0 };
    connections.push(relayed);
    const upstream = net.connect(target);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.once('close', () => sockets.delete(s));
      s.on('error', () => undefined);
    }
    client.on('data', (chunk: Buffer) => {
      if (relayed.head.length < 64) relayed.head += chunk.subarray(0, 64).toString('latin1');
      relayed.up += chunk.length;
    });
    upstream.on('data', (chunk: Buffer) => void (relayed.down += chunk.length));
    client.pipe(upstream);
    upstream.pipe(client);
    client.once('close', () => upstream.end());
    upstream.once('close', () => client.end());
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      resolve({
        port: (server.address() as net.AddressInfo).port,
        connections,
        close: () => new Promise<void>((done) => {
          for (const s of sockets) s.destroy();
          server.close(() => done());
        }),
      });
    });
  });
}

function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => void (stdout += d));
    child.stderr.on('data', (d) => void (stderr += d));
    child.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

let server: ChildProcess | undefined;
let proxy: Awaited<ReturnType<typeof countingProxy>> | undefined;
let dir: string;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tandem-bench-e2e-'));
  server = spawn(process.execPath, [BIN, 'bench', 'serve', '--port=0'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  const url = await new Promise<URL>((resolve, reject) => {
    let seen = '';
    server!.stdout!.on('data', (d) => {
      seen += d;
      const match = /listening on (http:\/\/\S+)/.exec(seen);
      if (match) resolve(new URL(match[1]!));
    });
    server!.once('exit', (code) => reject(new Error(`tandem bench serve exited (${code})`)));
  });
  proxy = await countingProxy({ host: url.hostname, port: Number(url.port) });
}, 30_000);

afterAll(async () => {
  await proxy?.close();
  if (server !== undefined && server.exitCode === null) {
    const exited = new Promise((resolve) => server!.once('exit', resolve));
    server.kill('SIGTERM');
    await exited;
  }
  fs.rmSync(dir, { recursive: true, force: true });
}, 20_000);

describe('tandem bench, end to end', () => {
  it('measures every strategy, writes a report of the contract, and its byte counts are what went over the sockets', async () => {
    const out = path.join(dir, 'report.json');
    const { code, stdout, stderr } = await run([
      'bench', `--url=http://127.0.0.1:${proxy!.port}`, '--quick', '--clients=6', '--watchers=3', '--change-rate=10', '--poll-interval=200',
      '--duration=1', '--warmup=0.5', `--out=${out}`, '--no-html',
    ]);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(stdout).toMatch(/strategy\s+delivered/);
    expect(stdout).toContain(`JSON report: ${out}`);
    const report = JSON.parse(fs.readFileSync(out, 'utf8')) as BenchReport;

    expect(report).toMatchObject({ version: 1, tool: 'tandem bench', workload: { clients: 6, watchersPerResource: 3, changesPerSecond: 10, pollIntervalMs: 200, durationSeconds: 1 } });
    expect(report.machine.target).toContain('--url');
    expect(report.results.map((r) => r.strategy)).toEqual(['poll-etag', 'poll-plain', 'sse', 'websocket']);
    for (const r of report.results) {
      expect(r.description).not.toBe('');
      // Two resources change 10 times a second on average for ~1 s; each change reaches its 3 watchers.
      expect(r.changes).toBeGreaterThanOrEqual(5);
      expect(r.expected).toBe(r.changes * 3);
      expect(r.delivered).toBe(r.expected);
      expect(r.latency.count).toBe(r.delivered);
      expect(r.latency.histogram.counts.reduce((a, b) => a + b, 0)).toBe(r.delivered);
      expect(r.latency.p50).toBeLessThanOrEqual(r.latency.p99);
      expect(r.serverCpuMs).toBeGreaterThan(0);
      expect(r.serverMemoryPerClientBytes).toBeGreaterThanOrEqual(0);
      expect(r.serverHeapPerClientBytes).toBeGreaterThanOrEqual(0);
      expect(r.bytesPerUpdate.serverToClient).toBeCloseTo(r.bytes.serverToClient / r.delivered, 0);
      expect(r.bytesPerUpdate.clientToServer).toBeCloseTo(r.bytes.clientToServer / r.delivered, 0);
    }
    const [etag, plain, sse, ws] = report.results;
    expect(etag!.requests).toBeGreaterThan(0);
    expect(plain!.requests).toBeGreaterThan(0);
    expect(ws!.requests).toBe(0);
    expect(report.claims.map((c) => c.id)).toEqual(['headers-500-800-bytes', 'push-holds-30pct-more-users', 'rest-10k-vs-ws-1k']);
    expect(report.crossover.length).toBeGreaterThan(0);
    expect(report.unitCosts).toMatchObject({ push: 'websocket' });
    expect(etag!.capacity!.requestsPerSecond).toBeGreaterThan(0);
    expect(etag!.capacity!.errors).toBe(0);

    // The independent count: the proxy's connections, by the time they opened, minus the bench's control connections.
    const measured = proxy!.connections.filter((c) => !/^\w+ \/_bench\//.test(c.head));
    for (const r of [etag!, plain!, sse!, ws!]) {
      const from = Date.parse(r.connections!.startedAt);
      const to = Date.parse(r.connections!.finishedAt);
      const mine = measured.filter((c) => c.openedAt >= from && c.openedAt <= to);
      expect(mine.length, r.strategy).toBe(r.connections!.opened);
      expect(mine.length, r.strategy).toBeGreaterThanOrEqual(6);
      // Push clients send nothing in a second's window (a ping every 20 s), but every connection has its handshake.
      expect(r.bytes.serverToClient, r.strategy).toBeGreaterThan(0);
      expect(r.connections!.bytes.clientToServer, r.strategy).toBeGreaterThan(0);
      expect({ strategy: r.strategy, ...r.connections!.bytes }).toEqual({
        strategy: r.strategy,
        clientToServer: mine.reduce((sum, c) => sum + c.up, 0),
        serverToClient: mine.reduce((sum, c) => sum + c.down, 0),
      });
      // The window is part of the connections' lifetime.
      expect(r.bytes.clientToServer).toBeLessThanOrEqual(r.connections!.bytes.clientToServer);
      expect(r.bytes.serverToClient).toBeLessThanOrEqual(r.connections!.bytes.serverToClient);
    }
    // Every other connection is the capacity probe's, which comes after poll-etag's clients have gone.
    const probe = { from: Date.parse(etag!.capacity!.startedAt), to: Date.parse(etag!.capacity!.finishedAt) };
    const within = (c: Relayed, from: number, to: number) => c.openedAt >= from && c.openedAt <= to;
    const strays = measured.filter((c) => !within(c, probe.from, probe.to) && !report.results.some((r) => within(c, Date.parse(r.connections!.startedAt), Date.parse(r.connections!.finishedAt))));
    expect(strays).toEqual([]);
  }, 40_000);
});
