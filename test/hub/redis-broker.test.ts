import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import net from 'node:net';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { RedisBroker, type BrokerMessage, type RedisBrokerOptions } from '../../src/server/broker';
import { reachable } from '../support/services';
import { eventually, until } from '../support/wait';
import { describeBrokerContract } from './broker-contract';

const REDIS_URL = process.env.TANDEM_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** Like postgresAvailable: skip loudly without Redis, fail under CI=true. */
async function redisAvailable(): Promise<boolean> {
  const url = new URL(REDIS_URL);
  if (await reachable(url.hostname, Number(url.port || 6379))) return true;
  if (process.env.CI === 'true') throw new Error(`Redis is required under CI=true but ${url.host} is unreachable`);
  process.stderr.write(`\n!!! SKIPPING RedisBroker tests: nothing listens at ${url.host} (set TANDEM_TEST_REDIS_URL)\n\n`);
  return false;
}

const available = await redisAvailable();

let admin: Redis;
const prefixes: string[] = [];
const open: RedisBroker[] = [];

/** A key prefix of its own, deleted after the test. */
function freshPrefix(): string {
  const prefix = `tandem-test:${randomUUID()}:`;
  prefixes.push(prefix);
  return prefix;
}

/** Log lines of every broker of the test (warnings would otherwise become process warnings). */
const logged: { node: string; level: string; msg: string }[] = [];

async function node(prefix: string, nodeId: string, options: Partial<RedisBrokerOptions> = {}): Promise<RedisBroker> {
  const broker = await RedisBroker.connect({
    url: REDIS_URL,
    keyPrefix: prefix,
    nodeId,
    log: (level, msg) => logged.push({ node: nodeId, level, msg }),
    ...options,
  });
  open.push(broker);
  return broker;
}

/** Two nodes of one cluster: same Redis, same prefix. */
async function twoNodes(options: Partial<RedisBrokerOptions> = {}): Promise<[RedisBroker, RedisBroker]> {
  const prefix = freshPrefix();
  return [await node(prefix, `a-${randomUUID()}`, options), await node(prefix, `b-${randomUUID()}`, options)];
}

function listen(broker: RedisBroker): BrokerMessage[] {
  const heard: BrokerMessage[] = [];
  broker.onMessage((m) => heard.push(m));
  return heard;
}

const offsets = (heard: BrokerMessage[]) => heard.map((m) => m.offset);

async function publishRange(broker: RedisBroker, channel: string, from: number, to: number): Promise<void> {
  for (let offset = from; offset <= to; offset += 1) await broker.publish({ channel, offset, event: 'e', data: offset });
}

async function deleteKeys(prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await admin.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    if (keys.length > 0) await admin.del(...keys);
    cursor = next;
  } while (cursor !== '0');
}

/** A port nothing listens on (taken from the OS, then released). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

describe.runIf(available)('RedisBroker', () => {
  beforeAll(() => {
    admin = new Redis(REDIS_URL, { lazyConnect: false });
  });
  afterEach(async () => {
    await Promise.all(open.splice(0).map((broker) => broker.close()));
    for (const prefix of prefixes.splice(0)) await deleteKeys(prefix);
    logged.length = 0;
  });
  afterAll(async () => {
    await admin.quit();
  });

  describeBrokerContract('RedisBroker', (options) => node(freshPrefix(), 'contract', options), { gaps: 'hold' });

  it('fans out across nodes: the same messages, offsets, epoch and sender on both, each delivered once', async () => {
    const [a, b] = await twoNodes();
    await Promise.all([a.watch('post:1'), b.watch('post:1')]);
    const heardA = listen(a);
    const heardB = listen(b);
    await publishRange(a, 'post:1', 1, 2);
    await b.publish({ channel: 'post:1', offset: 3, event: 'e', data: { deep: [1, 'x'] } });
    await a.publish({ channel: 'post:1', event: 'typing', data: null, from: 'conn-7' });
    await until(() => heardA.length === 4 && heardB.length === 4, 'four messages on both nodes');
    expect(heardA).toEqual(heardB);
    expect(offsets(heardA)).toEqual([1, 2, 3, undefined]);
    expect(heardA[2]!.data).toEqual({ deep: [1, 'x'] });
    expect(heardA[3]).toEqual({ channel: 'post:1', event: 'typing', data: null, from: 'conn-7' });
    expect(await a.position('post:1')).toEqual(await b.position('post:1'));
  });

  it('publishAll: a message that cannot be published (bad offset, data JSON cannot hold) fails alone; the rest go, the first failure is thrown', async () => {
    const [a] = await twoNodes();
    await Promise.all([a.watch('user:7'), a.watch('user:8')]);
    const heard = listen(a);
    await a.publish({ channel: 'user:8', offset: 1, event: 'e', data: null });
    await until(() => heard.length === 1, 'user:8 positioned at 1');
    await expect(a.publishAll([
      { channel: 'user:7', offset: 1, event: 'e', data: null },
      { channel: 'user:8', offset: 0, event: 'e', data: null },
      { channel: 'user:8', offset: 2, event: 'e', data: { big: 1n } },
      { channel: 'user:8', offset: 3, event: 'e', data: null },
    ])).rejects.toThrow(RangeError);
    await until(() => heard.length === 2, 'the good message of user:7');
    // user:8's offset 3 waits for offset 2, which could not be encoded: held, as any gap is.
    expect(heard.map((m) => [m.channel, m.offset])).toEqual([['user:8', 1], ['user:7', 1]]);
    expect((await a.position('user:7')).offset).toBe(1);
    expect((await a.position('user:8')).offset).toBe(1);
  });

  it('subscribes once per channel per node (PUBSUB NUMSUB), and unwatch drops it', async () => {
    const prefix = freshPrefix();
    const [a, b] = [await node(prefix, 'a'), await node(prefix, 'b')];
    const live = `${prefix}live:post:1`;
    const subscribers = async () => Number(((await admin.pubsub('NUMSUB', live)) as [string, number])[1]);
    await Promise.all([a.watch('post:1'), a.watch('post:1'), a.watch('post:1'), b.watch('post:1')]);
    await a.watch('post:1');
    expect(await subscribers()).toBe(2);
    a.unwatch('post:1');
    await eventually(async () => (await subscribers()) === 1, 'one subscriber left');
    const heardA = listen(a);
    const heardB = listen(b);
    await a.publish({ channel: 'post:1', offset: 1, event: 'e', data: null });
    await until(() => heardB.length === 1, 'b hears it');
    expect(heardA).toEqual([]);
    b.unwatch('post:1');
    await eventually(async () => (await subscribers()) === 0, 'no subscriber left');
  });

  it('delivers publications that reach Redis out of order (6 before 5, from two nodes) in order on both nodes', async () => {
    const [a, b] = await twoNodes();
    await Promise.all([a.watch('feed'), b.watch('feed')]);
    const heardA = listen(a);
    const heardB = listen(b);
    await publishRange(a, 'feed', 1, 4);
    await b.publish({ channel: 'feed', offset: 6, event: 'six', data: null });
    await a.publish({ channel: 'feed', offset: 5, event: 'five', data: null });
    await until(() => heardA.length === 6 && heardB.length === 6, 'six publications on both');
    expect(offsets(heardA)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(offsets(heardB)).toEqual([1, 2, 3, 4, 5, 6]);
    const { epoch } = await b.position('feed');
    const replay = await a.history('feed', { epoch, offset: 4 }, 10);
    expect(replay.ok && replay.publications.map((m) => m.event)).toEqual(['five', 'six']);
  });

  describe('an offset whose predecessor never comes', () => {
    it('is released once gapSource supplies the missing offsets', async () => {
      const outbox: BrokerMessage[] = [2, 3].map((offset) => ({ channel: 'feed', offset, event: 'from-outbox', data: offset }));
      const gapSource = vi.fn(async (_channel: string, after: number, upTo: number) => outbox.filter((m) => m.offset! > after && m.offset! <= upTo));
      const [a, b] = await twoNodes({ gapTimeoutMs: 100, gapSource });
      await Promise.all([a.watch('feed'), b.watch('feed')]);
      const heardA = listen(a);
      const heardB = listen(b);
      const gaps: unknown[] = [];
      a.onGap((channel) => gaps.push(channel));
      await a.publish({ channel: 'feed', offset: 1, event: 'e', data: 1 });
      await b.publish({ channel: 'feed', offset: 4, event: 'e', data: 4 });
      await until(() => heardA.length === 4 && heardB.length === 4, 'the gap filled on both nodes', 1500);
      expect(offsets(heardA)).toEqual([1, 2, 3, 4]);
      expect(offsets(heardB)).toEqual([1, 2, 3, 4]);
      expect(gapSource).toHaveBeenCalledWith('feed', 1, 3);
      expect(gaps).toEqual([]);
      const { epoch } = await a.position('feed');
      const replay = await b.history('feed', { epoch, offset: 0 }, 10);
      expect(replay.ok && replay.publications.map((m) => m.event)).toEqual(['e', 'from-outbox', 'from-outbox', 'e']);
    });

    it('is released after gapTimeoutMs when nothing has the missing offsets: floor raised, onGap(channel) on every node', async () => {
      const gapSource = vi.fn(async () => [] as BrokerMessage[]);
      const [a, b] = await twoNodes({ gapTimeoutMs: 100, gapSource });
      await Promise.all([a.watch('feed'), b.watch('feed')]);
      const heardA = listen(a);
      const heardB = listen(b);
      const gaps: [string, string | undefined][] = [];
      a.onGap((channel) => gaps.push(['a', channel]));
      b.onGap((channel) => gaps.push(['b', channel]));
      await publishRange(a, 'feed', 1, 2);
      await b.publish({ channel: 'feed', offset: 5, event: 'e', data: 5 });
      await until(() => heardA.length === 3 && heardB.length === 3, 'the held offset released', 1500);
      await until(() => gaps.length === 2, 'a gap reported on both nodes');
      expect(gaps.sort()).toEqual([['a', 'feed'], ['b', 'feed']]);
      expect(offsets(heardA)).toEqual([1, 2, 5]);
      expect(gapSource).toHaveBeenCalledTimes(1);
      const { epoch, offset } = await a.position('feed');
      expect(offset).toBe(5);
      expect(await a.history('feed', { epoch, offset: 2 }, 10)).toMatchObject({ ok: false, why: 'history_trimmed', offset: 5 });
      const after = await b.history('feed', { epoch, offset: 4 }, 10);
      expect(after.ok && after.publications.map((m) => m.offset)).toEqual([5]);
      // The missing ones arriving after all are late: neither fanned out nor stored.
      await a.publish({ channel: 'feed', offset: 3, event: 'late', data: null });
      await a.publish({ channel: 'feed', offset: 6, event: 'e', data: 6 });
      await until(() => heardB.length === 4, 'the next publication');
      expect(offsets(heardB)).toEqual([1, 2, 5, 6]);
    });

    it('is given up without a gapSource too', async () => {
      const [a] = await twoNodes({ gapTimeoutMs: 50 });
      await a.watch('feed');
      const gaps: (string | undefined)[] = [];
      a.onGap((channel) => gaps.push(channel));
      await a.publish({ channel: 'feed', offset: 1, event: 'e', data: null });
      await a.publish({ channel: 'feed', offset: 3, event: 'e', data: null });
      expect((await a.position('feed')).offset).toBe(1);
      await until(() => gaps.length === 1, 'the gap given up', 1500);
      expect(gaps).toEqual(['feed']);
      expect((await a.position('feed')).offset).toBe(3);
    });
  });

  describe('bounded history', () => {
    it('trims by age on append and lazily on read (default 10 minutes), by the injected clock', async () => {
      let now = 1_000_000;
      const [a, b] = await twoNodes({ clock: () => now });
      await publishRange(a, 'feed', 1, 2);
      now += 5 * 60_000;
      await publishRange(b, 'feed', 3, 3);
      now += 5 * 60_000;
      const { epoch } = await a.position('feed');
      // Exactly 10 minutes old is still kept.
      expect((await a.history('feed', { epoch, offset: 0 }, 100)).ok).toBe(true);
      now += 1;
      expect(await b.history('feed', { epoch, offset: 0 }, 100)).toMatchObject({ ok: false, why: 'history_trimmed', offset: 3 });
      const rest = await a.history('feed', { epoch, offset: 2 }, 100);
      expect(rest.ok && rest.publications.map((m) => m.offset)).toEqual([3]);
      now += 10 * 60_000;
      expect(await a.history('feed', { epoch, offset: 2 }, 100)).toMatchObject({ ok: false, why: 'history_trimmed' });
      // The position survives the history.
      expect(await a.history('feed', { epoch, offset: 3 }, 100)).toEqual({ ok: true, publications: [], epoch, offset: 3 });
    });

    it('honours count and age bounds together', async () => {
      let now = 1_000_000;
      const [a] = await twoNodes({ clock: () => now, historyMaxCount: 2, historyMaxAgeMs: 1000 });
      await publishRange(a, 'feed', 1, 3);
      const { epoch } = await a.position('feed');
      expect((await a.history('feed', { epoch, offset: 1 }, 10)).ok).toBe(true);
      expect(await a.history('feed', { epoch, offset: 0 }, 10)).toMatchObject({ ok: false, why: 'history_trimmed' });
      now += 1001;
      expect(await a.history('feed', { epoch, offset: 1 }, 10)).toMatchObject({ ok: false, why: 'history_trimmed' });
      expect(await a.history('feed', { epoch, offset: 3 }, 10)).toMatchObject({ ok: true, publications: [] });
    });

    it('counts a history that expired while idle as trimmed, and keeps the position', async () => {
      const prefix = freshPrefix();
      const a = await node(prefix, 'a');
      await publishRange(a, 'feed', 1, 3);
      const { epoch } = await a.position('feed');
      await admin.del(`${prefix}log:feed`);
      expect(await a.history('feed', { epoch, offset: 1 }, 10)).toMatchObject({ ok: false, why: 'history_trimmed', epoch, offset: 3 });
      expect(await a.history('feed', { epoch, offset: 3 }, 10)).toEqual({ ok: true, publications: [], epoch, offset: 3 });
      expect(await admin.pttl(`${prefix}meta:feed`)).toBeGreaterThan(0);
    });
  });

  describe('positionSource', () => {
    it('seeds a channel once for the cluster: concurrent first uses on two nodes end with one epoch', async () => {
      const source = vi.fn(async (channel: string) => (channel === 'post:1' ? 41 : 0));
      const [a, b] = await twoNodes({ positionSource: source });
      const [fromA, fromB] = await Promise.all([a.position('post:1'), b.position('post:1'), a.history('post:1', { epoch: 'x', offset: 41 }, 10)]);
      expect(fromA).toEqual(fromB);
      expect(fromA.offset).toBe(41);
      expect(source.mock.calls.length).toBeLessThanOrEqual(2);
      await publishRange(a, 'post:1', 42, 44);
      const replay = await b.history('post:1', fromA, 100);
      expect(replay.ok && replay.publications.map((m) => m.offset)).toEqual([42, 43, 44]);
      expect(await a.history('post:1', { epoch: fromA.epoch, offset: 40 }, 100)).toMatchObject({ ok: false, why: 'history_trimmed' });
      expect(await a.history('post:1', { epoch: fromA.epoch, offset: 45 }, 100)).toMatchObject({ ok: false, why: 'never_positioned' });
      const calls = source.mock.calls.length;
      await b.position('post:1');
      expect(source.mock.calls.length).toBe(calls);
    });

    it('still fans out a commit that the seed already counted, without storing it', async () => {
      const [a, b] = await twoNodes({ positionSource: async () => 8 });
      await b.watch('feed');
      const heard = listen(b);
      const { epoch } = await a.position('feed');
      await a.publish({ channel: 'feed', offset: 8, event: 'e', data: null });
      await a.publish({ channel: 'feed', offset: 8, event: 'e', data: null });
      await a.publish({ channel: 'feed', offset: 9, event: 'e', data: null });
      await until(() => heard.length === 2, 'two publications');
      expect(offsets(heard)).toEqual([8, 9]);
      const replay = await b.history('feed', { epoch, offset: 8 }, 10);
      expect(replay.ok && replay.publications.map((m) => m.offset)).toEqual([9]);
    });

    it('reads the database again after a failed seed', async () => {
      const source = vi.fn().mockRejectedValueOnce(new Error('db down')).mockResolvedValue(5);
      const [a] = await twoNodes({ positionSource: source });
      await expect(a.position('feed')).rejects.toThrow('db down');
      expect((await a.position('feed')).offset).toBe(5);
    });
  });

  it('reports a lost subscriber connection with onGap(undefined) once it is back, and delivers again', async () => {
    const [a, b] = await twoNodes({ reconnectCapMs: 100 });
    await Promise.all([a.watch('feed'), a.watch('post:1'), b.watch('feed')]);
    const heard = listen(a);
    const gaps: (string | undefined)[] = [];
    a.onGap((channel) => gaps.push(channel));
    const clients = (await admin.client('LIST')) as string;
    const line = clients.split('\n').find((entry) => entry.includes(`name=tandem-broker:${a.nodeId}:sub `));
    const id = /\bid=(\d+)/.exec(line ?? '')?.[1];
    expect(id).toBeDefined();
    await admin.client('KILL', 'ID', id!);
    await until(() => gaps.length === 1, 'the outage reported', 1500);
    expect(gaps).toEqual([undefined]);
    expect(a.state()).toBe('ready');
    await b.publish({ channel: 'feed', offset: 1, event: 'e', data: null });
    await b.publish({ channel: 'post:1', event: 'typing', data: null });
    await until(() => heard.length === 2, 'both channels delivered again');
    expect(heard.map((m) => m.channel)).toEqual(['feed', 'post:1']);
  });

  it('refuses to start, naming the address without its password, when Redis is unreachable', async () => {
    const port = await freePort();
    const started = Date.now();
    const failure = RedisBroker.connect({ url: `redis://:secret@127.0.0.1:${port}`, keyPrefix: freshPrefix(), nodeId: 'a', log: () => undefined });
    await expect(failure).rejects.toThrow(`RedisBroker cannot reach Redis at redis://:***@127.0.0.1:${port}: connect ECONNREFUSED`);
    await expect(failure).rejects.not.toThrow('secret');
    expect(Date.now() - started).toBeLessThan(1500);
  });

  describe('a Redis server that stops and comes back empty', () => {
    let port: number;
    let server: ChildProcess | undefined;

    async function startServer(): Promise<void> {
      server = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
      await eventually(() => reachable('127.0.0.1', port, 100), `redis-server on port ${port}`);
    }

    async function stopServer(): Promise<void> {
      const stopping = server;
      server = undefined;
      if (stopping === undefined || stopping.exitCode !== null) return;
      const exited = new Promise((resolve) => stopping.once('exit', resolve));
      stopping.kill('SIGKILL');
      await exited;
    }

    beforeAll(async () => {
      port = await freePort();
      await startServer();
    });
    afterAll(stopServer);

    it('fails fast while it is down, then resubscribes, reports onGap(undefined) and starts a new epoch', async () => {
      const broker = await RedisBroker.connect({
        url: `redis://127.0.0.1:${port}`, keyPrefix: 'p:', nodeId: 'solo', reconnectCapMs: 100, log: () => undefined,
      });
      open.push(broker);
      await broker.watch('feed');
      const heard = listen(broker);
      const gaps: (string | undefined)[] = [];
      broker.onGap((channel) => gaps.push(channel));
      await publishRange(broker, 'feed', 1, 2);
      const before = await broker.position('feed');

      await stopServer();
      await until(() => broker.state() === 'reconnecting', 'the broker to notice');
      const started = Date.now();
      await expect(broker.publish({ channel: 'feed', offset: 3, event: 'e', data: null })).rejects.toThrow(Error);
      await expect(broker.publish({ channel: 'feed', event: 'typing', data: null })).rejects.toThrow(Error);
      await expect(broker.history('feed', before, 10)).rejects.toThrow(Error);
      await expect(broker.watch('post:1')).rejects.toThrow(/reconnecting/);
      expect(Date.now() - started).toBeLessThan(1000);

      await startServer();
      await until(() => gaps.length === 1, 'the outage reported', 1500);
      expect(gaps).toEqual([undefined]);
      // The command connection reconnects on its own schedule.
      await until(() => broker.state() === 'ready', 'both connections back', 1500);
      // Redis lost everything: the next publication starts a new epoch, and old positions learn it.
      await broker.publish({ channel: 'feed', offset: 3, event: 'e', data: null });
      await until(() => heard.length === 3, 'fanout again');
      expect(offsets(heard)).toEqual([1, 2, 3]);
      const after = await broker.position('feed');
      expect(after.epoch).not.toBe(before.epoch);
      expect(await broker.history('feed', before, 10)).toEqual({ ok: false, why: 'epoch_changed', ...after });
    });

    it('never hangs on a server that stops answering: commands time out, the silent link is replaced', async () => {
      const broker = await RedisBroker.connect({
        url: `redis://127.0.0.1:${port}`, keyPrefix: 'q:', nodeId: 'solo', commandTimeoutMs: 200, heartbeatMs: 50, reconnectCapMs: 100, log: () => undefined,
      });
      open.push(broker);
      await broker.watch('feed');
      const heard = listen(broker);
      const gaps: (string | undefined)[] = [];
      broker.onGap((channel) => gaps.push(channel));
      const transitions: string[] = [];
      broker.onStateChange(({ to }) => transitions.push(to));
      server!.kill('SIGSTOP');
      try {
        const started = Date.now();
        await expect(broker.publish({ channel: 'feed', offset: 1, event: 'e', data: null })).rejects.toThrow(Error);
        expect(Date.now() - started).toBeLessThan(1000);
        await until(() => broker.state() === 'reconnecting', 'the hung command connection replaced', 500);
        // The subscriber hears nothing either way: only its unanswered heartbeat tells.
        await until(() => transitions.includes('reconnecting'), 'the silent subscriber link noticed', 1000);
      } finally {
        server!.kill('SIGCONT');
      }
      await until(() => gaps.length === 1 && broker.state() === 'ready', 'the link back', 1500);
      expect(gaps).toEqual([undefined]);
      expect(transitions).toEqual(['reconnecting', 'ready']);
      await broker.publish({ channel: 'feed', offset: 2, event: 'e', data: null });
      await until(() => heard.some((m) => m.offset === 2), 'fanout again');
    });
  });

  it('reports a throwing listener without keeping the message from the others', async () => {
    const errors: unknown[] = [];
    const a = await node(freshPrefix(), 'a', { onListenerError: (error) => errors.push(error) });
    await a.watch('feed');
    a.onMessage(() => {
      throw new Error('boom');
    });
    const heard = listen(a);
    await a.publish({ channel: 'feed', event: 'x', data: null });
    await until(() => heard.length === 1, 'the message');
    expect(errors).toHaveLength(1);
  });

  it('refuses to work once closed', async () => {
    const a = await node(freshPrefix(), 'a');
    await a.close();
    expect(a.state()).toBe('closed');
    await expect(a.publish({ channel: 'feed', event: 'x', data: null })).rejects.toThrow('closed');
    await expect(a.position('feed')).rejects.toThrow('closed');
    await expect(a.watch('feed')).rejects.toThrow('closed');
  });
});
