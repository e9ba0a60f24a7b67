/**
 * The app `tandem bench` measures, built on tandem/server like any app: one resource type (an
 * item of `--payload` bytes with a version), read with Tandem's conventions (ETag from the stored
 * version, a 304 without loading or serializing it, the channel position headers), and one
 * channel per item (`item:{id}`) carrying each change. A change is one transaction that writes the
 * new version and appends it to the item's channel; subscribers get it after the commit.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Generated, Kysely } from 'kysely';
import {
  Cached, ConditionalHeaders, defineApp, etag, NotModifiedWithPosition, problems, ReadById, withSerialId,
  type CachePolicy, type PortableMigration, type TandemContext, type TandemHttpApp, type TandemTables,
} from 'tandem/server';
import { Type } from 'typebox';
import type { ItemBody } from './change-loop';

export interface BenchDb extends TandemTables {
  bench_items: { id: Generated<number>; version: number; changed_at: number; pad: string };
}

export type BenchContext = TandemContext<BenchDb>;

const migrations: PortableMigration[] = [
  {
    name: '1001_bench_items',
    async up(db, dialect) {
      await withSerialId(db.schema.createTable('bench_items'), dialect)
        .addColumn('version', 'integer', (c) => c.notNull())
        .addColumn('changed_at', 'double precision', (c) => c.notNull())
        .addColumn('pad', 'text', (c) => c.notNull())
        .execute();
    },
  },
];

export const Item = Type.Object({
  id: Type.Integer(),
  version: Type.Integer({ description: 'Bumped by every change' }),
  at: Type.Number({ description: "When the change began (the server's monotonic clock, µs)" }),
  pad: Type.String({ description: 'Filler that brings the JSON to the payload size' }),
});
const ItemParams = Type.Object({ id: Type.Integer({ minimum: 1, maximum: 2_147_483_647 }) });

export const itemChannel = (id: number): string => `item:${id}`;
export const ITEM_EVENT = 'item.changed';

const versionById = new ReadById((db: Kysely<BenchDb>, id: number) => db.selectFrom('bench_items').select('version').where('id', '=', id));
const itemById = new ReadById((db: Kysely<BenchDb>, id: number) => db.selectFrom('bench_items').select(['id', 'version', 'changed_at', 'pad']).where('id', '=', id));

function sendItem(ctx: BenchContext, request: FastifyRequest, reply: FastifyReply, id: number, policy: CachePolicy): Promise<ItemBody> {
  return ctx.sendItem(request, reply, {
    channel: itemChannel(id),
    policy,
    etag: async (db) => {
      const row = await versionById.first(db, id);
      return row && etag('item', id, row.version);
    },
    load: async (db) => {
      const row = await itemById.first(db, id);
      return row && { id: row.id, version: row.version, at: row.changed_at, pad: row.pad };
    },
    missing: `Item ${id} does not exist`,
  });
}

/** Writes a change and appends it to the item's channel, in one transaction. */
export function commitChange(ctx: BenchContext, body: ItemBody): Promise<void> {
  return ctx.transaction(async (trx, log) => {
    await trx.updateTable('bench_items').set({ version: body.version, changed_at: body.at, pad: body.pad }).where('id', '=', body.id).execute();
    await log.append(itemChannel(body.id), ITEM_EVENT, body);
  });
}

function itemRoutes(app: TandemHttpApp, ctx: BenchContext): void {
  const tags = ['bench'];
  const response = { 200: Cached(Item, { channel: true }), 304: NotModifiedWithPosition };
  app.get('/api/items/:id', {
    schema: { tags, summary: 'A public item (polled without a token)', params: ItemParams, headers: ConditionalHeaders, response: { ...response, ...problems(404) } },
  }, async (request, reply) => sendItem(ctx, request, reply, request.params.id, 'publicItem'));
  app.get('/api/my/items/:id', {
    preHandler: ctx.authenticate,
    schema: { tags, summary: 'An item read by a signed-in user (polled with a token)', params: ItemParams, headers: ConditionalHeaders, response: { ...response, ...problems(401, 404) } },
  }, async (request, reply) => sendItem(ctx, request, reply, request.params.id, 'private'));
}

/**
 * The bench app. `control` registers the driver's `/_bench/*` routes (server/control-routes.ts);
 * it gets the context once the library has built it.
 */
export function benchApp(control: (app: TandemHttpApp, ctx: BenchContext) => void) {
  return defineApp<BenchDb>({
    name: 'tandem-bench',
    api: { title: 'tandem bench', version: '1.0.0', description: 'The app `tandem bench` measures: items that change, read over REST and followed over realtime.' },
    migrations,
    channels: { item: { description: 'One item: each change of it', param: 'id', events: { [ITEM_EVENT]: { description: 'The item after a change', data: Item } } } },
    accounts: false,
    routes(app, ctx) {
      itemRoutes(app, ctx);
      control(app, ctx);
    },
  });
}
