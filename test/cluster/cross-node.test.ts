import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CommitAnnouncer, inTransaction } from '../../src/server/store/channel-log';
import { clusterServicesAvailable, startCluster, type TestCluster } from '../support/cluster';
import { TestSocket } from '../support/realtime';
import { registerUser, type TestServer, type TestUser } from '../support/server';
import { loginFrom, requestFrom } from '../support/http';
import { sleep, until } from '../support/wait';

const available = await clusterServicesAvailable();

/** Two nodes of one cluster (PostgreSQL + Redis): any node serves any client. */
describe.runIf(available)('a cluster of two nodes', () => {
  let cluster: TestCluster;
  let a: TestServer;
  let b: TestServer;
  const sockets: TestSocket[] = [];
  const connect = async (node: TestServer, user: TestUser) => {
    const socket = await TestSocket.connect(node, user.accessToken);
    sockets.push(socket);
    return socket;
  };

  beforeAll(async () => {
    cluster = await startCluster({ nodes: 2, env: { TANDEM_WS_CONNECTIONS_PER_USER: '3', TANDEM_LOGIN_LIMIT_ACCOUNT: '5' } });
    [a, b] = cluster.nodes as [TestServer, TestServer];
  });
  afterAll(async () => {
    for (const socket of sockets) socket.close();
    await cluster?.close();
  });

  it('a client on node A receives what a REST write on node B published, at the offset REST reports', async () => {
    const alice = await registerUser(a);
    const socket = await connect(a, alice);
    const created = await b.request('/api/posts', { method: 'POST', token: alice.accessToken, json: { body: 'from B' } });
    expect(created.status).toBe(201);
    const post = (await created.json()) as { id: number };
    const sub = await socket.request({ t: 'sub', ch: `post:${post.id}` });
    expect(sub.t).toBe('ack');
    const comment = await b.request(`/api/posts/${post.id}/comments`, { method: 'POST', token: alice.accessToken, json: { body: 'hello across nodes' } });
    expect(comment.status).toBe(201);
    const pub = await socket.next((f) => f.t === 'pub' && f.ch === `post:${post.id}`);
    const list = await a.request(`/api/posts/${post.id}/comments`);
    expect(Number(list.headers.get('tandem-position'))).toBe(pub.o);
    expect(list.headers.get('tandem-epoch')).toBe((sub.d as { e: string }).e);
    // Node B answers with the same position and epoch.
    const fromB = await b.request(`/api/posts/${post.id}/comments`);
    expect([fromB.headers.get('tandem-epoch'), fromB.headers.get('tandem-position')]).toEqual([list.headers.get('tandem-epoch'), list.headers.get('tandem-position')]);
  });

  it('recovery on node B answers exactly what node A delivered', async () => {
    const bob = await registerUser(a);
    const onA = await connect(a, bob);
    const sub = await onA.request({ t: 'sub', ch: 'feed' });
    const position = sub.d as { e: string; o: number };
    for (let i = 0; i < 3; i += 1) {
      const res = await (i % 2 === 0 ? a : b).request('/api/posts', { method: 'POST', token: bob.accessToken, json: { body: `post ${i}` } });
      expect(res.status).toBe(201);
    }
    await until(() => onA.publications('feed').length >= 3, 'three feed publications on A');
    const onB = await connect(b, bob);
    const recovered = await onB.request({ t: 'sub', ch: 'feed', since: position });
    const answer = recovered.d as { rec: boolean; pubs: Array<{ o: number; d: unknown }> };
    expect(answer.rec).toBe(true);
    expect(answer.pubs.map((p) => p.o)).toEqual(onA.publications('feed').slice(0, answer.pubs.length).map((p) => p.o));
    expect(answer.pubs.map((p) => p.o)).toEqual(onA.publications('feed').map((p) => p.o).filter((o) => (o as number) > position.o));
  });

  it('a commit whose node died before publishing it still reaches every subscriber, from the outbox', async () => {
    const gina = await registerUser(a);
    const post = (await (await a.request('/api/posts', { method: 'POST', token: gina.accessToken, json: { body: 'outbox' } })).json()) as { id: number };
    const socket = await connect(b, gina);
    await socket.request({ t: 'sub', ch: `post:${post.id}` });
    // Committed with its outbox row, announced to nobody: as if the node died right after the commit.
    await inTransaction(a.social.db, new CommitAnnouncer({ outbox: true }), (_trx, log) => log.append(`post:${post.id}`, 'comment.created', { id: 0, body: 'orphan' }));
    const pub = await socket.next((f) => f.t === 'pub' && f.ch === `post:${post.id}`, 5_000);
    expect(pub).toMatchObject({ o: 1, ev: 'comment.created', d: { body: 'orphan' } });
  });

  it('presence is counted across nodes, and a leave on one node reaches the other', async () => {
    const [carol, dave] = [await registerUser(a), await registerUser(a)];
    const onA = await connect(a, carol);
    await onA.request({ t: 'sub', ch: 'online' });
    const onB = await connect(b, dave);
    const answer = await onB.request({ t: 'sub', ch: 'online' });
    const present = (answer.d as { pres: Array<{ id: number }> }).pres.map((u) => u.id);
    expect(present).toEqual(expect.arrayContaining([carol.id, dave.id]));
    await onA.next((f) => f.t === 'join' && (f.u as { id: number }).id === dave.id);
    // REST on either node agrees.
    for (const node of [a, b]) {
      const online = (await (await node.request('/api/online', { token: carol.accessToken })).json()) as { users: Array<{ id: number }> };
      expect(online.users.map((u) => u.id)).toEqual(expect.arrayContaining([carol.id, dave.id]));
    }
  });

  it('a logout on node A closes the session’s sockets on node B within a second', async () => {
    const erin = await registerUser(a);
    const onB = await connect(b, erin);
    const started = Date.now();
    const out = await a.request('/api/auth/logout', { method: 'POST', token: erin.accessToken, json: { refreshToken: erin.refreshToken } });
    expect(out.status).toBeLessThan(300);
    expect((await onB.whenClosed(2_000)).code).toBe(4009);
    expect(Date.now() - started).toBeLessThan(1_000);
  });

  it('login limits hold across nodes: guesses spread over both count together, and the owner still signs in', async () => {
    const victim = await registerUser(a);
    for (let i = 0; i < 5; i += 1) {
      const answer = await loginFrom((i % 2 === 0 ? a : b).url, '127.0.0.2', victim.username, `wrong ${i}`);
      expect(answer.code).toBe('invalid_credentials');
    }
    for (const node of [a, b]) expect(await loginFrom(node.url, '127.0.0.2', victim.username, victim.password)).toMatchObject({ status: 429, code: 'login_rate_limited' });
    expect((await loginFrom(b.url, '127.0.0.1', victim.username, victim.password)).status).toBe(200);
  });

  it('the per-user connection cap holds across nodes', async () => {
    const frank = await registerUser(a);
    await connect(a, frank);
    await connect(b, frank);
    await connect(a, frank);
    const fourth = await TestSocket.open(b);
    sockets.push(fourth);
    const answer = await fourth.request({ t: 'auth', tok: frank.accessToken });
    expect(answer).toMatchObject({ t: 'err', c: 'too_many_connections' });
  });
});

/** Rate limits per address are the cluster's: what one node let through counts on the other (~200 ms later). */
describe.runIf(available)('rate limits across two nodes', () => {
  let cluster: TestCluster;
  let a: TestServer;
  let b: TestServer;
  const sockets: TestSocket[] = [];

  beforeAll(async () => {
    cluster = await startCluster({ nodes: 2, env: { TANDEM_RATE_LIMIT: '60', TANDEM_RATE_LIMIT_BURST: '10', TANDEM_WS_HANDSHAKES_PER_IP: '1' } });
    [a, b] = cluster.nodes as [TestServer, TestServer];
  });
  afterAll(async () => {
    for (const socket of sockets) socket.close();
    await cluster?.close();
  });

  it('the REST per-IP rate: a burst spent on node A leaves nothing on node B', async () => {
    for (let i = 0; i < 10; i += 1) expect((await requestFrom(a.url, '127.0.0.3', '/api/posts')).status).toBe(200);
    await sleep(500); // the nodes exchange what they spent every 200 ms
    const onB = await requestFrom(b.url, '127.0.0.3', '/api/posts');
    expect(onB).toMatchObject({ status: 429, code: 'rate_limited' });
    expect(Number(onB.retryAfter)).toBeGreaterThanOrEqual(1);
    // Another address is untouched on either node.
    expect((await requestFrom(b.url, '127.0.0.5', '/api/posts')).status).toBe(200);
  });

  it('the per-IP handshake rate: handshakes on node A count on node B', async () => {
    // One per second, bursts of two.
    for (let i = 0; i < 2; i += 1) sockets.push(await TestSocket.open(a, { localAddress: '127.0.0.4' }));
    await sleep(500);
    await expect(TestSocket.open(b, { localAddress: '127.0.0.4' })).rejects.toThrow(/429/);
    sockets.push(await TestSocket.open(b, { localAddress: '127.0.0.6' }));
  });
});
