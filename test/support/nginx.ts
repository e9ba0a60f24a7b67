import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { eventually } from './wait';

/**
 * deploy/nginx.conf itself, its ports replaced by a test's, in front of two nodes. Tests that need
 * it call nginxAvailable() first: without nginx they skip loudly; under CI=true (.ci/run installs
 * it) that is a failure.
 */
export const NGINX = process.env.TANDEM_NGINX ?? '/usr/sbin/nginx';

export function nginxAvailable(): boolean {
  if (fs.existsSync(NGINX)) return true;
  if (process.env.CI === 'true') throw new Error(`nginx is required under CI=true but ${NGINX} is missing`);
  console.warn(`\n!!! SKIPPING the nginx tests: no nginx at ${NGINX} (apt-get install -y nginx, or set TANDEM_NGINX)\n`);
  return false;
}

/** A port nothing listens on right now (the OS's pick), for a server that cannot take port 0. */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export interface TestNginx {
  url: string;
  /** The master process; its worker is its child. */
  pid: number;
  /** nginx's error log so far (level warn and up): upstream failures, failovers. */
  errorLog(): string;
  /** Stops nginx (SIGTERM, then SIGKILL after 5 s) and removes its folder; safe to call twice. */
  stop(): Promise<void>;
}

/** Starts nginx on deploy/nginx.conf with the two nodes' ports and a free port of its own, in a temp folder. */
export async function startNginx(nodes: ReadonlyArray<{ url: string }>, options: { nodesUp?: boolean } = {}): Promise<TestNginx> {
  const prefix = fs.mkdtempSync(path.join(os.tmpdir(), 'tandem-nginx-'));
  let child: ChildProcess | undefined;
  const stop = async () => {
    if (child !== undefined && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child!.once('exit', resolve));
      child.kill('SIGTERM');
      const killer = setTimeout(() => child!.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(killer);
    }
    fs.rmSync(prefix, { recursive: true, force: true });
  };
  try {
    const port = await freePort();
    const portOf = (node: { url: string }) => new URL(node.url).port;
    const original = fs.readFileSync(path.resolve(import.meta.dirname, '../../deploy/nginx.conf'), 'utf8');
    // The file is the product: if its addresses move, say so rather than run nginx on the wrong ports.
    for (const expected of ['127.0.0.1:3001', '127.0.0.1:3002', 'listen 127.0.0.1:8080 ']) {
      if (!original.includes(expected)) throw new Error(`deploy/nginx.conf no longer has '${expected}': update test/support/nginx.ts`);
    }
    const conf = original
      .replaceAll('127.0.0.1:3001', `127.0.0.1:${portOf(nodes[0]!)}`)
      .replaceAll('127.0.0.1:3002', `127.0.0.1:${portOf(nodes[1]!)}`)
      .replace('listen 127.0.0.1:8080 ', `listen 127.0.0.1:${port} `);
    fs.writeFileSync(path.join(prefix, 'nginx.conf'), conf);
    fs.mkdirSync(path.join(prefix, 'logs'));
    child = spawn(NGINX, ['-p', prefix, '-c', path.join(prefix, 'nginx.conf'), '-g', `daemon off; pid ${prefix}/nginx.pid; error_log ${prefix}/logs/error.log warn;`], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const url = `http://127.0.0.1:${port}`;
    await eventually(async () => {
      if (child!.exitCode !== null) throw new Error(`nginx exited: ${stderr}`);
      // Started once /healthz passes through to a node (or, with nodesUp: false, once nginx answers at all).
      return fetch(`${url}/healthz`).then((r) => r.ok || options.nodesUp === false, () => false);
    }, 'nginx answering', 10_000);
    const errorLog = () => {
      try {
        return fs.readFileSync(path.join(prefix, 'logs', 'error.log'), 'utf8');
      } catch {
        return '';
      }
    };
    return { url, pid: child.pid!, errorLog, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
