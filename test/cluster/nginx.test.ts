import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clusterServicesAvailable, startCluster, type TestCluster } from '../support/cluster';
import { freePort, nginxAvailable, startNginx, type TestNginx } from '../support/nginx';
import { RestClient, TandemClientError } from '../../src/client/index';
import { TestSocket } from '../support/realtime';
import { registerUser, type TestServer } from '../support/server';
import { loginFrom, requestAt } from '../support/http';
import { until } from '../support/wait';
import { Clients, collector, comment, range, type Reachable } from '../client/realtime-support';

/**
 * deploy/nginx.conf itself (its ports replaced by the test's) in front of two real nodes: REST with
 * caching, WebSocket upgrades, and the SSE fallback, whose POSTs must reach the node holding the
 * stream. Without nginx this skips loudly; under CI=true (.ci/run installs it) it fails.
 */
const available = nginxAvailable() && (await clusterServicesAvailable());

describe.runIf(available)('deploy/nginx.conf in front of two nodes', () => {
  let cluster: TestCluster;
  let nginx: TestNginx;
  let front: Reachable;
  const clients = new Clients();

  beforeAll(async () => {
    cluster = await startCluster({ nodes: 2, env: { TANDEM_TRUST_PROXY: '127.0.0.1', TANDEM_LOGIN_LIMIT_ACCOUNT: '5' } });
    nginx = await startNginx(cluster.nodes);
    front = {
      url: nginx.url,
      request: requestAt(nginx.url),
    };
  });
  afterAll(async () => {
    clients.closeAll();
    await nginx?.stop();
    await cluster?.close();
  });

  it('serves REST from both nodes, with ETags and 304s passing through', async () => {
    const user = await registerUser(cluster.nodes[0]!);
    const created = await front.request('/api/posts', { method: 'POST', token: user.accessToken, json: { body: 'behind nginx' } });
    expect(created.status).toBe(201);
    const { id } = (await created.json()) as { id: number };
    const first = await front.request(`/api/posts/${id}`);
    const etag = first.headers.get('etag');
    expect(etag).toBeTruthy();
    for (let i = 0; i < 4; i += 1) {
      const again = await front.request(`/api/posts/${id}`, { headers: { 'if-none-match': etag! } });
      expect(again.status).toBe(304);
    }
    const nodes = new Set<string>();
    for (let i = 0; i < 4; i += 1) nodes.add(((await (await front.request('/readyz')).json()) as { node: string }).node);
    expect([...nodes].sort()).toEqual(['n1', 'n2']);
  });

  it('passes what the nodes need to see: the browser’s Host (same-origin WebSockets and SSE are accepted) and the client’s address', async () => {
    const user = await registerUser(cluster.nodes[0]!);
    // A browser on the site sends Origin = the site; the node compares it with the Host it receives.
    const socket = await TestSocket.open(front as TestServer, { headers: { origin: nginx.url } });
    try {
      expect((await socket.request({ t: 'auth', tok: user.accessToken })).t).toBe('ack');
    } finally {
      socket.close();
    }
    const stream = await fetch(`${nginx.url}/realtime/sse`, { headers: { origin: nginx.url, accept: 'text/event-stream' } });
    expect(stream.status).toBe(200);
    await stream.body?.cancel();
    // The client's own address (X-Forwarded-For, trusted from nginx): an attacker at 127.0.0.2 locked
    // out of an account does not lock out its owner at 127.0.0.1, though both come through nginx.
    for (let i = 0; i < 5; i += 1) await loginFrom(nginx.url, '127.0.0.2', user.username, `wrong ${i}`);
    expect((await loginFrom(nginx.url, '127.0.0.2', user.username, user.password)).status).toBe(429);
    expect((await loginFrom(nginx.url, '127.0.0.1', user.username, user.password)).status).toBe(200);
  });

  it('upgrades WebSockets and delivers what a write through nginx published', async () => {
    const user = await registerUser(cluster.nodes[0]!);
    const socket = await TestSocket.connect(front as TestServer, user.accessToken);
    try {
      const post = (await (await front.request('/api/posts', { method: 'POST', token: user.accessToken, json: { body: 'ws' } })).json()) as { id: number };
      expect((await socket.request({ t: 'sub', ch: `post:${post.id}` })).t).toBe('ack');
      for (let i = 0; i < 4; i += 1) await comment(front, user, post.id, `c${i}`);
      await until(() => socket.publications(`post:${post.id}`).length === 4, 'four publications');
      expect(socket.publications(`post:${post.id}`).map((p) => p.o)).toEqual(range(1, 4));
    } finally {
      socket.close();
    }
  });

  it('keeps an SSE stream on its node: every POST of frames reaches it, every publication arrives once', async () => {
    const user = await registerUser(cluster.nodes[0]!);
    const post = (await (await front.request('/api/posts', { method: 'POST', token: user.accessToken, json: { body: 'sse' } })).json()) as { id: number };
    const { client, streams } = clients.create(front, user, { transport: 'sse' });
    const seen = collector();
    // Several subscriptions, so several POSTs of frames: each one must reach the stream's node.
    const channels = [`post:${post.id}`, 'feed', 'online', `user:${user.id}`];
    const subscriptions = channels.map((channel) => client.subscribe(channel, channel === `post:${post.id}` ? seen.handler : () => undefined));
    client.connect();
    await until(() => subscriptions.every((s) => s.state === 'live'), 'every subscription live over SSE', 10_000);
    for (let i = 0; i < 6; i += 1) await comment(front, user, post.id, `s${i}`);
    await until(() => seen.offsets().length === 6, 'six publications over SSE');
    expect(seen.offsets()).toEqual(range(1, 6));
    // One stream, never lost (a POST that reached the other node would have answered 410).
    expect(streams.map((s) => s.status)).toEqual([200]);
  });
});

describe.runIf(nginxAvailable())('the client behind nginx when no node answers', () => {
  let nginx: TestNginx;
  beforeAll(async () => {
    // Nothing listens on either upstream port: nginx answers 502, as it does while every node restarts.
    nginx = await startNginx([{ url: `http://127.0.0.1:${await freePort()}` }, { url: `http://127.0.0.1:${await freePort()}` }], { nodesUp: false });
  });
  afterAll(async () => {
    await nginx?.stop();
  });

  it('retries a safe request on 502 with backoff, and never a POST without an Idempotency-Key', async () => {
    const sleeps: number[] = [];
    let attempts = 0;
    const client = new RestClient({
      baseUrl: nginx.url,
      random: () => 0.5,
      sleep: async (ms) => void sleeps.push(ms),
      fetch: (input, init) => ((attempts += 1), fetch(input, init)),
    });
    const read = await client.request({ method: 'GET', path: '/api/posts', auth: 'none' }).catch((error: unknown) => error);
    expect(read).toBeInstanceOf(TandemClientError);
    expect((read as TandemClientError).status).toBe(502);
    expect(attempts).toBe(4);
    expect(sleeps).toEqual([250, 500, 1000]);

    attempts = 0;
    const write = await client.request({ method: 'POST', path: '/api/posts', auth: 'none', body: { body: 'x' } }).catch((error: unknown) => error);
    expect((write as TandemClientError).status).toBe(502);
    expect(attempts).toBe(1);
  });
});
