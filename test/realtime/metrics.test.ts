import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerUser, startServer, type TestServer } from '../support/server';
import { refusedHandshake, TestSocket } from '../support/realtime';
import { until } from '../support/wait';
import { createPost, metric } from './support';
import { singleNode } from '../support/target';

let server: TestServer;

beforeAll(async () => {
  server = await startServer({ env: { TANDEM_PRESENCE_GRACE_MS: '0' } });
});
afterAll(() => server.close());

singleNode('counts one node’s /metrics series line by line').describe('realtime metrics', () => {
  it('count connections, subscriptions, frames in by type, bytes, refusals and closes', async () => {
    const user = await registerUser(server);
    const a = await TestSocket.connect(server, user.accessToken);
    const b = await TestSocket.connect(server, user.accessToken);
    expect((await a.request({ t: 'sub', ch: 'feed' })).t).toBe('ack');
    expect((await b.request({ t: 'sub', ch: 'feed' })).t).toBe('ack');
    expect((await b.request({ t: 'sub', ch: `user:${user.id}` })).t).toBe('ack');
    expect(await metric(server, 'tandem_ws_connections')).toBe(2);
    expect(await metric(server, 'tandem_ws_subscriptions')).toBe(3);
    expect(await metric(server, 'tandem_ws_messages_in_total', 'type="sub"')).toBe(3);
    expect(await metric(server, 'tandem_ws_messages_in_total', 'type="auth"')).toBe(2);

    const bytesBefore = await metric(server, 'tandem_ws_bytes_out_total');
    await createPost(server, user, 'counted');
    await a.next((f) => f.t === 'pub');
    await b.next((f) => f.t === 'pub');
    expect(await metric(server, 'tandem_ws_bytes_out_total')).toBeGreaterThan(bytesBefore);

    const refused = await refusedHandshake(server, { origin: 'https://evil.example' });
    expect(refused.status).toBe(403);
    expect(await metric(server, 'tandem_ws_refusals_total', 'reason="origin_forbidden"')).toBe(1);

    a.close();
    b.sendRaw('not json');
    await b.next((f) => f.t === 'err');
    b.close();
    await until(() => server.social.gateway.connectionCount === 0, 'no connections');
    expect(await metric(server, 'tandem_ws_connections')).toBe(0);
    expect(await metric(server, 'tandem_ws_subscriptions')).toBe(0);
    expect(await metric(server, 'tandem_ws_publish_to_write_seconds_count')).toBeGreaterThan(0);
    // Two peer closes, each counted once (not again under a numeric code).
    expect(await metric(server, 'tandem_ws_closes_total', 'reason="peer"')).toBe(2);
    const closes = (await (await server.request('/metrics')).text()).split('\n').filter((l) => l.startsWith('tandem_ws_closes_total{'));
    expect(closes).toEqual(['tandem_ws_closes_total{reason="peer"} 2']);
  });
});
