import { describe, it, type TestFunction } from 'vitest';

/**
 * What `startServer()` starts: one process on SQLite (the `embedded` vitest project), or two nodes
 * of one cluster on PostgreSQL + Redis (the `cluster` project sets TANDEM_TEST_TARGET=cluster).
 */
export const clusterTarget = process.env.TANDEM_TEST_TARGET === 'cluster';

/**
 * For a test about one process (it reads one node's internal maps, counts one node's metrics,
 * restarts on a SQLite file): runs on the embedded target, and is skipped on the cluster target
 * with `reason` in its name, so the report says why.
 *
 * @example singleNode('counts one node’s /metrics').it('exposes the realtime gauges', async () => { ... });
 */
export function singleNode(reason: string): {
  it(name: string, fn: TestFunction, timeout?: number): void;
  describe(name: string, fn: () => void): void;
} {
  const skipped = (name: string) => `${name} [single node: ${reason}]`;
  return {
    it: (name, fn, timeout) => (clusterTarget ? it.skip(skipped(name), fn, timeout) : it(name, fn, timeout)),
    describe: (name, fn) => (clusterTarget ? describe.skip(skipped(name), fn) : describe(name, fn)),
  };
}
