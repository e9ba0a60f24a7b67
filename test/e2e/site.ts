import WebSocket from 'ws';
import { SUBPROTOCOL } from '../../src/protocol/wire';
import { clusterServicesAvailable, startCluster, type TestCluster } from '../support/cluster';
import { nginxAvailable, startNginx, type TestNginx } from '../support/nginx';
import { startNode, type StartOptions, type TestServer } from '../support/server';
import { eventually } from '../support/wait';
import { requestAt } from '../support/http';

/**
 * Where the browser suite's people go: two nodes of one cluster behind nginx (deploy/nginx.conf)
 * when PostgreSQL, Redis and nginx are there, else one embedded server on SQLite. The suite is the
 * same either way; only this module knows the difference.
 */

export type SiteKind = 'cluster' | 'embedded';

export type Request = (pathname: string, init?: RequestInit & { json?: unknown; token?: string }) => Promise<Response>;

export interface Site {
  readonly kind: SiteKind;
  /** The browsers' only address: the embedded server's, or nginx's (REST and realtime alike). */
  readonly url: string;
  /** fetch against `url`, as a browser's request would go. */
  readonly request: Request;
  /**
   * A restart of the whole site, as outages the caller drives one after the other: the embedded
   * server stops and starts again on its SQLite file and port; on the cluster each node in turn
   * stops and starts again on its port, as the same node id, behind the same nginx, so the pages
   * on it reconnect through nginx to the other node meanwhile. A server that stops drains, as on
   * a deploy: its sockets close with 1012 and a reconnect hint of 0-5 s.
   */
  restart(): Outage[];
  /** Open realtime connections (WebSocket and SSE) over every server of the site, from each one's /metrics. */
  realtimeConnections(): Promise<number>;
  close(): Promise<void>;
}

/** One server of the site going away under the open pages, and coming back. */
export interface Outage {
  /** 'the server', or the node's id. */
  readonly server: string;
  /**
   * Whether every open page is connected to this server (so every page loses its connection). On
   * the cluster only the second node's outage promises it: the first one moved every page there.
   */
  readonly everyPage: boolean;
  /** Takes the server away. */
  down(): Promise<void>;
  /** Resolves once the site answers requests again: the embedded server has restarted; on the cluster, the other node answers through nginx. */
  answering(): Promise<void>;
  /** Resolves once the server is back in service (a node: restarted, and nginx routes to it again). */
  back(): Promise<void>;
}

export interface SiteOptions {
  /** The built web UI every server serves. */
  webRoot: string;
  /** Settings of every server, over TANDEM_SEED=true (the suite signs in as the demo users) and the tests' defaults. */
  env: Record<string, string>;
  /** The embedded server's SQLite folder, kept across its restart. */
  dataDir: string;
}

/**
 * Which site this machine can run, decided when the suite is collected (test titles depend on
 * it): the cluster when PostgreSQL, Redis and nginx are all there, and always under CI=true (a
 * missing one then throws, as in the other service tests); else the embedded server, said loudly.
 */
export async function siteKind(): Promise<SiteKind> {
  if (nginxAvailable() && (await clusterServicesAvailable())) return 'cluster';
  console.warn([
    '',
    '!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!',
    '!! The web UI browser tests run against ONE embedded server (SQLite), not two nodes',
    '!! behind nginx: PostgreSQL, Redis or nginx is missing (see above). Under CI=true that fails.',
    '!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!',
    '',
  ].join('\n'));
  return 'embedded';
}

export function startSite(kind: SiteKind, options: SiteOptions): Promise<Site> {
  return kind === 'cluster' ? startClusterSite(options) : startEmbeddedSite(options);
}

/**
 * How the site answers a WebSocket upgrade as a page of its own sends it (with its Origin):
 * undefined when it opens, else the refusal (status and body). Said before any page tries, so a
 * refusal fails with its reason instead of as a page that never connects.
 */
export function realtimeRefusal(url: string): Promise<string | undefined> {
  return new Promise((resolve) => {
    const ws = new WebSocket(`${url.replace(/^http/, 'ws')}/realtime`, SUBPROTOCOL, { origin: url });
    ws.once('open', () => {
      ws.close();
      resolve(undefined);
    });
    ws.once('unexpected-response', (request, response) => {
      let body = '';
      response.on('data', (chunk: Buffer) => (body += chunk.toString()));
      response.on('end', () => {
        request.destroy();
        resolve(`${response.statusCode} ${body}`);
      });
    });
    ws.once('error', (error) => resolve(String(error)));
  });
}

/** What every server of either site runs with. */
function serverOptions(options: SiteOptions): StartOptions {
  // The gateway's timer (auth timeouts, token expiry, closing sockets) every 20 ms, not every second.
  return { webRoot: options.webRoot, realtimeTickMs: 20 };
}


/** One in-process server on SQLite; its restart is a new server on the same folder and port. */
async function startEmbeddedSite(options: SiteOptions): Promise<Site> {
  const start = (port: number) => startNode({ ...serverOptions(options), dataDir: options.dataDir, port, env: { TANDEM_SEED: 'true', ...options.env } });
  let server: TestServer | undefined = await start(0);
  const port = Number(new URL(server.url).port);
  const url = `http://127.0.0.1:${port}`;
  const outage: Outage = {
    server: 'the server',
    everyPage: true,
    async down() {
      const closing = server;
      server = undefined;
      await closing?.close();
    },
    async answering() {
      server ??= await start(port);
    },
    back: async () => outage.answering(),
  };
  return { kind: 'embedded', url, request: requestAt(url), restart: () => [outage], realtimeConnections: () => realtimeConnections(server === undefined ? [] : [server.url]), close: async () => server?.close() };
}

/**
 * Two in-process nodes of one cluster (PostgreSQL schema, Redis prefix) behind deploy/nginx.conf.
 * Every node has TANDEM_SEED=true: the first one seeds, the others (and the restarts) find the store
 * seeded, which is a no-op. (Node processes, killed with SIGKILL, were tried: they take 5-20 s each
 * to start on a busy 2-core machine, three starts per run; the chaos tests cover SIGKILL.)
 */
async function startClusterSite(options: SiteOptions): Promise<Site> {
  const cluster = await startCluster({ nodes: 2, ...serverOptions(options), env: { TANDEM_SEED: 'true', TANDEM_TRUST_PROXY: '127.0.0.1', ...options.env } });
  let nginx: TestNginx;
  try {
    nginx = await startNginx(cluster.nodes);
  } catch (error) {
    await cluster.close();
    throw error;
  }
  const request = requestAt(nginx.url);
  return {
    kind: 'cluster',
    url: nginx.url,
    request,
    // After n1's outage every page is on n2: n2's takes them all.
    restart: () => ['n1', 'n2'].map((nodeId, index) => nodeOutage(cluster, nodeId, index > 0, request)),
    realtimeConnections: () => realtimeConnections(cluster.nodes.map((node) => node.url)),
    async close() {
      await nginx.stop();
      await cluster.close();
    },
  };
}

/** The sum of the `tandem_ws_connections` gauge (every realtime connection, WebSocket or SSE) over these servers. */
async function realtimeConnections(urls: string[]): Promise<number> {
  const counts = await Promise.all(urls.map(async (url) => {
    const text = await (await fetch(`${url}/metrics`)).text();
    // A cluster node labels its metrics with its id: tandem_ws_connections{node="n1"} 3
    const value = /^tandem_ws_connections(?:\{[^}]*\})? (\d+)$/m.exec(text)?.[1];
    if (value === undefined) throw new Error(`no tandem_ws_connections in ${url}/metrics`);
    return Number(value);
  }));
  return counts.reduce((a, b) => a + b, 0);
}

/** A node stopping (it drains: its sockets close with 1012) and starting again on its port, as the same node id. */
function nodeOutage(cluster: TestCluster, nodeId: string, everyPage: boolean, request: Request): Outage {
  let port: number | undefined;
  /** The node that answers a request through nginx (/readyz says which). */
  const answeringNode = async () => {
    const res = await request('/readyz').catch(() => undefined);
    if (res?.status === 200) return ((await res.json()) as { node: string }).node;
    await res?.body?.cancel();
    return undefined;
  };
  return {
    server: nodeId,
    everyPage,
    async down() {
      const node = cluster.nodes.find((n) => n.config.cluster.nodeId === nodeId)!;
      port = Number(new URL(node.url).port);
      // Out of the cluster's list first: its close() must not close it twice.
      cluster.nodes.splice(cluster.nodes.indexOf(node), 1);
      await node.close();
    },
    async answering() {
      await eventually(async () => (await answeringNode()) !== undefined, `the cluster answering through nginx without ${nodeId}`, 10_000);
    },
    async back() {
      await cluster.addNode({ port: port!, env: { TANDEM_NODE_ID: nodeId } });
      // nginx skips a node for fail_timeout (5 s) after it failed: wait until it routes to it again.
      await eventually(async () => (await answeringNode()) === nodeId, `nginx routing to ${nodeId} again`, 15_000);
    },
  };
}
