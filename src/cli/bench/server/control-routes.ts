/**
 * The driver's `/_bench/*` routes (control-api.ts): set a strategy up (items, accounts, tokens),
 * run and stop the change loop, read the counters. Each marks its connection as control, so the
 * byte and request counts never include them.
 */
import type { Socket } from 'node:net';
import v8 from 'node:v8';
import vm from 'node:vm';
import { setTimeout as sleep } from 'node:timers/promises';
import { createAccount, hashPassword, type TandemHttpApp } from 'tandem/server';
import { Type } from 'typebox';
import { CONTROL_PREFIX, type ClockReading, type CommitLog, type ServerInfo, type ServerStats, type SetupAnswer } from '../control-api';
import { commitChange, type BenchContext } from './app';
import { nowMicros } from '../clock';
import { ChangeLoop, itemBody } from './change-loop';
import type { SocketBytes } from './socket-bytes';

const Count = (max: number) => Type.Integer({ minimum: 0, maximum: max });
const SetupBody = Type.Object({ resources: Count(100_000), clients: Count(100_000), payloadBytes: Count(16 * 1024 * 1024) }, { additionalProperties: false });
const ChangesBody = Type.Object(
  { itemIds: Type.Array(Type.Integer({ minimum: 1 }), { maxItems: 100_000 }), changesPerSecond: Type.Number({ minimum: 0, maximum: 100_000 }), payloadBytes: Count(16 * 1024 * 1024) },
  { additionalProperties: false },
);

let collect: (() => void) | undefined;

/**
 * Cycles short-lived garbage through the young generation until it has grown to its full size, so
 * that growth does not land between the two readings of memory per client (as bench:realtime does).
 */
function primeHeap(): void {
  let keep: unknown[] = [];
  for (let i = 0; i < 2_000_000; i += 1) {
    keep.push({ i, s: `x${i}`, a: [i, i + 1] });
    if (keep.length === 1000) keep = [];
  }
}

/** A full garbage collection, so RSS and heap readings compare (--expose-gc turned on at run time). */
async function fullGc(): Promise<void> {
  if (collect === undefined) {
    v8.setFlagsFromString('--expose-gc');
    collect = vm.runInNewContext('gc') as () => void;
  }
  for (let i = 0; i < 3; i += 1) {
    collect();
    await sleep(20);
  }
}

export interface ControlState {
  bytes: SocketBytes;
  /** The realtime figures of the running server (it exists once the routes answer). */
  realtimeStats(): { connections: number; subscriptions: number };
}

/** Registers the control routes on the bench app. */
export function controlRoutes(state: ControlState): (app: TandemHttpApp, ctx: BenchContext) => void {
  return (app, ctx) => {
    const versions = new Map<number, number>();
    const userIds: number[] = [];
    let loop: ChangeLoop | undefined;
    // Each control route marks its connection in a preHandler of its own, so the measured routes carry no extra hook.
    const route = {
      config: { rateLimit: false },
      schema: { hide: true },
      preHandler: async (request: { raw: { socket: Socket } }) => state.bytes.markControl(request.raw.socket),
    } as const;

    app.addHook('onClose', async () => {
      await loop?.stop();
    });

    app.get(`${CONTROL_PREFIX}info`, route, async (): Promise<ServerInfo> => ({ tool: 'tandem bench server', apiVersion: 1, pid: process.pid, node: process.version }));
    app.get(`${CONTROL_PREFIX}clock`, route, async (): Promise<ClockReading> => ({ now: nowMicros() }));

    app.post(`${CONTROL_PREFIX}setup`, { ...route, schema: { ...route.schema, body: SetupBody } }, async (request): Promise<SetupAnswer> => {
      const { resources, clients, payloadBytes } = request.body;
      const itemIds = await createItems(ctx, resources, payloadBytes);
      for (const id of itemIds) versions.set(id, 1);
      await createAccounts(ctx, userIds, clients);
      const tokens: string[] = [];
      for (let i = 0; i < clients; i += 1) tokens.push((await ctx.issueSession(userIds[i]!)).accessToken);
      return { itemIds, tokens };
    });

    app.post(`${CONTROL_PREFIX}changes`, { ...route, schema: { ...route.schema, body: ChangesBody } }, async (request) => {
      if (loop !== undefined) remember(versions, await loop.stop());
      const { itemIds, changesPerSecond, payloadBytes } = request.body;
      loop = new ChangeLoop({ itemIds, versions, changesPerSecond, payloadBytes, commit: (body) => commitChange(ctx, body) });
      loop.start();
      return { startedAt: nowMicros() };
    });

    app.delete(`${CONTROL_PREFIX}changes`, route, async (): Promise<CommitLog> => {
      const log = loop === undefined ? { items: [], behind: 0 } : await loop.stop();
      loop = undefined;
      remember(versions, log);
      return log;
    });

    app.get(`${CONTROL_PREFIX}stats`, route, async (request): Promise<ServerStats> => {
      const query = request.query as { gc?: string; prime?: string };
      if (query.prime === '1') primeHeap();
      if (query.gc === '1') await fullGc();
      const cpu = process.cpuUsage();
      const memory = process.memoryUsage();
      const realtime = state.realtimeStats();
      return {
        now: nowMicros(), cpuMicros: cpu.user + cpu.system, rss: memory.rss, heapUsed: memory.heapUsed,
        ...state.bytes.snapshot(), realtimeConnections: realtime.connections, subscriptions: realtime.subscriptions,
      };
    });
  };
}

function remember(versions: Map<number, number>, log: CommitLog): void {
  for (const item of log.items) versions.set(item.id, item.firstVersion + item.at.length - 1);
}

async function createItems(ctx: BenchContext, count: number, payloadBytes: number): Promise<number[]> {
  return ctx.transaction(async (trx) => {
    const ids: number[] = [];
    for (let i = 0; i < count; i += 1) {
      const row = await trx.insertInto('bench_items').values({ version: 1, changed_at: 0, pad: '' }).returning('id').executeTakeFirstOrThrow();
      const body = itemBody(row.id, 1, nowMicros(), payloadBytes);
      await trx.updateTable('bench_items').set({ changed_at: body.at, pad: body.pad }).where('id', '=', row.id).execute();
      ids.push(row.id);
    }
    return ids;
  });
}

let passwordHash: Promise<string> | undefined;

/** Grows the pool of bench accounts to `count` (one account per client: per-user limits stay realistic). */
async function createAccounts(ctx: BenchContext, userIds: number[], count: number): Promise<void> {
  if (userIds.length >= count) return;
  passwordHash ??= hashPassword('tandem-bench-only');
  const hash = await passwordHash;
  await ctx.transaction(async (trx) => {
    for (let i = userIds.length; i < count; i += 1) {
      userIds.push((await createAccount(trx, { username: `bench${i}`, displayName: `bench ${i}`, passwordHash: hash })).id);
    }
  });
}
