/**
 * Where `tandem bench` sends its load: a bench server it starts itself (a child process, pinned
 * to its own core when it can be), or a `tandem bench serve` at --url, which must be on this
 * machine unless the user says otherwise (--allow-remote): a benchmark is load, and load aimed at
 * someone else's server by a typo is an attack.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { lookup } from 'node:dns/promises';
import net from 'node:net';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { UsageError } from '../io';
import { LISTENING } from './control-api';

/** Whether an address is loopback (127.0.0.0/8, ::1, or IPv4-mapped 127.x). */
export function isLoopbackAddress(address: string): boolean {
  const bare = address.replace(/^\[|\]$/g, '');
  if (net.isIPv4(bare)) return bare.startsWith('127.');
  if (net.isIPv6(bare)) return bare === '::1' || /^::ffff:127\./i.test(bare) || /^0*:0*:0*:0*:0*:0*:0*:0*1$/.test(bare);
  return false;
}

/** Whether every address `host` resolves to is loopback. */
async function resolvesToLoopback(host: string): Promise<boolean> {
  const bare = host.replace(/^\[|\]$/g, '');
  if (net.isIP(bare) !== 0) return isLoopbackAddress(bare);
  try {
    const addresses = await lookup(bare, { all: true });
    return addresses.length > 0 && addresses.every((a) => isLoopbackAddress(a.address));
  } catch {
    throw new UsageError(`--url: cannot resolve ${host}`);
  }
}

/** Checks --url: http, a base URL (no path), loopback unless `allowRemote`. */
export async function checkTargetUrl(raw: string, allowRemote: boolean): Promise<URL> {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new UsageError(`--url: not a URL: ${JSON.stringify(raw)} (e.g. --url=http://127.0.0.1:4100)`);
  }
  if (url.protocol !== 'http:') throw new UsageError(`--url: only http:// is supported (got ${url.protocol}); put TLS in front of a bench server and the bench would measure the proxy`);
  if (url.pathname !== '/' || url.search !== '' || url.hash !== '') throw new UsageError(`--url: give the server's base URL only (e.g. http://127.0.0.1:4100), not ${url.pathname}${url.search}`);
  if (!allowRemote && !(await resolvesToLoopback(url.hostname))) {
    throw new UsageError(`refusing to load ${url.host}: it is not on this machine (loopback). A benchmark is load; pass --allow-remote if that server is yours`);
  }
  return url;
}

/** Checks `tandem bench serve --host`: listening beyond loopback needs --allow-remote. */
export function checkServeHost(host: string, allowRemote: boolean): void {
  if (!allowRemote && !isLoopbackAddress(host) && host !== 'localhost') {
    throw new UsageError(`refusing to listen on ${host}: anyone who can reach it could drive the bench server. Pass --allow-remote to serve beyond this machine`);
  }
}

/** CPUs to pin the server and this process to, or undefined when pinning is not possible (not Linux, one CPU, no taskset). */
export function pinning(): { server: string; clients: string } | undefined {
  const cpus = os.availableParallelism();
  if (process.platform !== 'linux' || cpus < 2) return undefined;
  if (spawnSync('taskset', ['-c', '0', 'true'], { stdio: 'ignore' }).status !== 0) return undefined;
  return { server: String(cpus - 1), clients: cpus === 2 ? '0' : `0-${cpus - 2}` };
}

/** Pins a running process (every thread) to `cpus`; false when taskset refused. */
export function pinProcess(pid: number, cpus: string): boolean {
  return spawnSync('taskset', ['-a', '-p', '-c', cpus, String(pid)], { stdio: 'ignore' }).status === 0;
}

export interface EmbeddedServer {
  url: URL;
  pid: number;
  stop(): Promise<void>;
}

const children = new Set<ChildProcess>();

/** Kills every server this process started (its exit, a signal). */
export function killEmbeddedServers(): void {
  for (const child of children) {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
  children.clear();
}

/**
 * Starts `tandem bench serve` in a child process (its own process group, so it is killed as
 * one); resolves once it listens. Unpinned: the caller pins it (pinProcess) when its turn comes.
 */
export async function startEmbeddedServer(nodeArgs: readonly string[] = []): Promise<EmbeddedServer> {
  const main = fileURLToPath(new URL('../main.ts', import.meta.url));
  const args = [...nodeArgs, '--import', import.meta.resolve('tsx'), main, 'bench', 'serve', '--port=0', '--host=127.0.0.1'];
  const child = spawn(process.execPath, args, { detached: true, stdio: ['ignore', 'pipe', 'inherit', 'ipc'] });
  children.add(child);
  child.once('exit', () => children.delete(child));
  const url = await new Promise<URL>((resolve, reject) => {
    let seen = '';
    const timer = setTimeout(() => reject(new Error('the bench server did not start within 60 s')), 60_000);
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      seen += chunk;
      const match = LISTENING.exec(seen);
      if (match === null) return;
      clearTimeout(timer);
      resolve(new URL(match[1]!));
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`the bench server exited before it listened (code ${code}, signal ${signal})`));
    });
  }).catch((error: Error) => {
    killEmbeddedServers();
    throw error;
  });
  // A server started with node options (a --cpu-prof) must exit on its own to write what they ask for;
  // any other has nothing to keep once its clients are gone, and a drain would only cost time.
  return { url, pid: child.pid!, stop: () => stopChild(child, nodeArgs.length > 0) };
}

/** SIGTERM (the server drains) and SIGKILL to its group after 10 s; or SIGKILL at once. */
async function stopChild(child: ChildProcess, graceful: boolean): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  if (!graceful) {
    process.kill(-child.pid!, 'SIGKILL');
    return exited;
  }
  child.kill('SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([exited, new Promise<void>((resolve) => (timer = setTimeout(resolve, 10_000)))]);
  clearTimeout(timer);
  if (child.exitCode === null && child.signalCode === null) {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      /* gone */
    }
    await exited;
  }
}
