import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import { Metrics } from '../../src/server/ops/metrics';

function lines(text: string, prefix: string): string[] {
  return text.split('\n').filter((line) => line.startsWith(prefix));
}

describe('HTTP request metrics', () => {
  it('counts and times every response by method, route template and status, in the Prometheus text format', async () => {
    const app = Fastify();
    const metrics = new Metrics({ defaultMetrics: false });
    metrics.registry.setDefaultLabels({ node: 'n1' });
    metrics.install(app);
    app.get('/items/:id', async () => ({ ok: true }));
    app.get('/slow', async () => {
      await new Promise((resolve) => setTimeout(resolve, 60));
      return {};
    });
    for (let i = 0; i < 3; i++) await app.inject('/items/7');
    await app.inject('/nothing-here');
    await app.inject('/slow');
    const text = (await app.inject('/metrics')).body;

    expect(text).toContain('# TYPE tandem_http_requests_total counter');
    expect(text).toContain('# TYPE tandem_http_request_duration_seconds histogram');
    expect(lines(text, 'tandem_http_requests_total{').sort()).toEqual([
      'tandem_http_requests_total{method="GET",route="/items/:id",status="200",node="n1"} 3',
      'tandem_http_requests_total{method="GET",route="/slow",status="200",node="n1"} 1',
      'tandem_http_requests_total{method="GET",route="unmatched",status="404",node="n1"} 1',
    ]);
    const slow = lines(text, 'tandem_http_request_duration_seconds').filter((line) => line.includes('route="/slow"'));
    const bucket = (le: string) => slow.find((line) => line.includes(`le="${le}"`))?.split(' ').at(-1);
    // 60 ms: not within 0.05 s, within 0.1 s and every bound after it (buckets are cumulative).
    expect([bucket('0.05'), bucket('0.1'), bucket('2.5'), bucket('+Inf')]).toEqual(['0', '1', '1', '1']);
    expect(slow.filter((line) => line.includes('_bucket{'))).toHaveLength(13);
    expect(slow.find((line) => line.startsWith('tandem_http_request_duration_seconds_count'))).toMatch(/ 1$/);
    const sum = Number(slow.find((line) => line.startsWith('tandem_http_request_duration_seconds_sum'))?.split(' ').at(-1));
    expect(sum).toBeGreaterThanOrEqual(0.05);
    expect(sum).toBeLessThan(2.5);
    const items = lines(text, 'tandem_http_request_duration_seconds_count').find((line) => line.includes('route="/items/:id"'));
    expect(items).toMatch(/ 3$/);
    await app.close();
  });
});
