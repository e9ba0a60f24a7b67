import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { PresenceChange } from '../../src/server/hub';
import { RedisCluster } from '../../src/server/cluster/redis-cluster';
import { REDIS_URL, deleteRedisPrefix, redisAvailable } from '../support/services';
import { eventually, until } from '../support/wait';

const redis = await redisAvailable();

describe.runIf(redis)('RedisCluster: what nodes share besides channels', () => {
  const open: RedisCluster[] = [];
  const prefixes: string[] = [];

  async function nodes(count: number, options: { nodeTtlMs?: number } = {}): Promise<RedisCluster[]> {
    const prefix = `tandem-test:${randomBytes(4).toString('hex')}:`;
    prefixes.push(prefix);
    const made: RedisCluster[] = [];
    for (let i = 0; i < count; i += 1) {
      const node = new RedisCluster({ url: REDIS_URL, prefix, nodeId: `node${i}`, nodeTtlMs: options.nodeTtlMs ?? 1000 });
      await node.connect();
      made.push(node);
      open.push(node);
    }
    return made;
  }

  afterEach(async () => {
    await Promise.all(open.splice(0).map((node) => node.close()));
    await Promise.all(prefixes.splice(0).map((prefix) => deleteRedisPrefix(prefix)));
  });

  it('a revocation announced on one node reaches every node, itself included', async () => {
    const [a, b] = await nodes(2);
    const heard: string[] = [];
    a!.onRevoked((session) => heard.push(`a ${session}`));
    b!.onRevoked((session) => heard.push(`b ${session}`));
    await a!.announceRevoked('s1', 'logout');
    await until(() => heard.length === 2, 'both nodes heard the revocation');
    expect(heard.sort()).toEqual(['a s1', 'b s1']);
  });

  it('holds a per-user connection cap across nodes, and gives slots back', async () => {
    const [a, b] = await nodes(2);
    expect(await a!.acquireConnection(7, 2)).toBe(true);
    expect(await b!.acquireConnection(7, 2)).toBe(true);
    expect(await a!.acquireConnection(7, 2)).toBe(false);
    expect(await b!.acquireConnection(7, 2)).toBe(false);
    expect(await a!.acquireConnection(8, 2)).toBe(true); // another user
    b!.releaseConnection(7);
    await eventually(() => a!.acquireConnection(7, 2), 'a slot freed by the release');
  });

  it('a dead node’s connections stop counting after the node TTL', async () => {
    const [a, b] = await nodes(2, { nodeTtlMs: 600 });
    expect(await b!.acquireConnection(7, 1)).toBe(true);
    expect(await a!.acquireConnection(7, 1)).toBe(false);
    await b!.close(); // leaves the live set at once
    expect(await a!.acquireConnection(7, 1)).toBe(true);
  });

  it('presence: a node’s users are in the others’ snapshots, changes reach them, a closed node is gone', async () => {
    const [a, b] = await nodes(2);
    const changes: PresenceChange[] = [];
    a!.presence.onChange((change) => changes.push(change));
    b!.presence.publish('room:1', 'join', { id: 2, n: 'bob' });
    await until(() => changes.length === 1, 'the join reached node a');
    expect(changes[0]).toEqual({ kind: 'join', channel: 'room:1', node: b!.instance, user: { id: 2, n: 'bob' } });
    a!.presence.publish('room:1', 'join', { id: 1, n: 'alice' });
    const snapshot = await a!.presence.snapshot('room:1');
    expect(snapshot.map((e) => `${e.node === a!.instance ? 'a' : 'b'} ${e.user.n}`).sort()).toEqual(['a alice', 'b bob']);
    await b!.close();
    await until(() => changes.some((c) => c.kind === 'node_gone'), 'node b is gone');
    expect((await a!.presence.snapshot('room:1')).map((e) => e.user.n)).toEqual(['alice']);
  });

  it('a node that stops heartbeating (killed) is found dead within the TTL by the others', async () => {
    const [a] = await nodes(1, { nodeTtlMs: 500 });
    const changes: PresenceChange[] = [];
    a!.presence.onChange((change) => changes.push(change));
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(import.meta.dirname, 'fixtures', 'presence-node.ts'), REDIS_URL, prefixes[0]!, '500'], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      const instance = await new Promise<string>((resolve, reject) => {
        child.stdout.on('data', (chunk: Buffer) => {
          const match = /ready (\S+)/.exec(chunk.toString());
          if (match) resolve(match[1]!);
        });
        child.once('exit', (code) => reject(new Error(`the node exited early (${code})`)));
      });
      await until(() => changes.some((c) => c.kind === 'join'), 'the doomed node’s join');
      expect((await a!.presence.snapshot('room:1')).map((e) => e.node)).toEqual([instance]);
      child.kill('SIGKILL'); // no goodbye: its heartbeat just stops
      const killedAt = Date.now();
      await until(() => changes.some((c) => c.kind === 'node_gone' && c.node === instance), 'the killed node found dead', 3000);
      // Found within the TTL plus one heartbeat of the survivor (500 + 100 ms), with slack for a busy machine.
      expect(Date.now() - killedAt).toBeLessThan(1500);
      expect(await a!.presence.snapshot('room:1')).toEqual([]);
    } finally {
      child.kill('SIGKILL');
    }
  });
});
