import { afterEach, describe, expect, it } from 'vitest';
import { limitKey } from '../src/server/http/client-address';
import { refusedHandshake } from './support/realtime';
import { startServer, type TestServer } from './support/server';
import { singleNode } from './support/target';

/**
 * Behind a proxy, REST and realtime must agree on who the client is: the per-address limits count
 * the address X-Forwarded-For names, but only when the proxy the request came through is trusted.
 * (The tests connect from 127.0.0.1, so they are "the proxy".)
 */

let server: TestServer | undefined;
const perNodeRate = singleNode('counts exact per-IP budgets; a cluster shares them between nodes ~200 ms late (docs/architecture.md)');
afterEach(async () => {
  await server?.close();
  server = undefined;
});

const get = (target: TestServer, forwardedFor: string) => target.request('/api/posts', { headers: { 'x-forwarded-for': forwardedFor } });

describe('TANDEM_TRUST_PROXY', () => {
  for (const trust of ['127.0.0.1', 'loopback', '1']) {
    perNodeRate.it(`${trust}: the REST limit and the WebSocket handshake limit both count the forwarded address`, async () => {
      server = await startServer({
        env: { TANDEM_TRUST_PROXY: trust, TANDEM_RATE_LIMIT: '60', TANDEM_RATE_LIMIT_BURST: '2' },
        realtimeLimits: { handshakesPerIpPerSecond: 1 },
      });
      expect((await get(server, '203.0.113.1')).status).toBe(200);
      expect((await get(server, '203.0.113.1')).status).toBe(200);
      expect((await get(server, '203.0.113.1')).status).toBe(429);
      expect((await get(server, '203.0.113.2')).status).toBe(200);
      // One handshake per second per address, bursts of 2: the third from one address is refused, another address is not.
      const ws = (address: string) => refusedHandshake(server!, { 'x-forwarded-for': address }).then((r) => r.status, () => 101);
      expect(await ws('198.51.100.1')).toBe(101);
      expect(await ws('198.51.100.1')).toBe(101);
      expect(await ws('198.51.100.1')).toBe(429);
      expect(await ws('198.51.100.2')).toBe(101);
    });
  }

  perNodeRate.it('an untrusted peer cannot choose its address by sending X-Forwarded-For', async () => {
    server = await startServer({ env: { TANDEM_TRUST_PROXY: '10.0.0.0/8', TANDEM_RATE_LIMIT: '60', TANDEM_RATE_LIMIT_BURST: '2' } });
    expect((await get(server, '203.0.113.1')).status).toBe(200);
    expect((await get(server, '203.0.113.2')).status).toBe(200);
    expect((await get(server, '203.0.113.3')).status).toBe(429);
  });

  it('refuses a value that is no proxy list at start', async () => {
    await expect(startServer({ env: { TANDEM_TRUST_PROXY: 'not an address' } })).rejects.toThrow(/TANDEM_TRUST_PROXY/);
  });
});

describe('per-address limits key IPv6 by its /64', () => {
  it('groups the addresses of one /64 and keeps IPv4 as it is', () => {
    expect(limitKey('2001:db8:1:2:aaaa::1')).toBe('2001:db8:1:2::/64');
    expect(limitKey('2001:0db8:0001:0002:ffff:ffff:ffff:ffff')).toBe('2001:db8:1:2::/64');
    expect(limitKey('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(limitKey('::1')).toBe('0:0:0:0::/64');
    expect(limitKey('203.0.113.9')).toBe('203.0.113.9');
    expect(limitKey('::ffff:203.0.113.9')).toBe('::ffff:203.0.113.9');
  });
});
