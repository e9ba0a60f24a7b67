import { createQueryId, type Compilable, type CompiledQuery, type Kysely } from 'kysely';
import { directReaderOf, NOT_NOW } from './database';

/**
 * A read by id (a number, or a string key such as a session id) whose query is built and
 * compiled once per database instead of on every call (only the id parameter changes). On
 * PostgreSQL it runs through Kysely's executor; on SQLite, outside a transaction, it reads at once
 * (directReaderOf). Transactions (a new object each time) compile and execute as they always did.
 */
export class ReadById<DB, R, K extends number | string = number> {
  readonly #build: (db: Kysely<DB>, id: K) => Compilable<R>;
  readonly #compiled = new WeakMap<Kysely<DB>, CompiledQuery<R>>();

  constructor(build: (db: Kysely<DB>, id: K) => Compilable<R>) {
    this.#build = build;
  }

  async first(db: Kysely<DB>, id: K): Promise<R | undefined> {
    let compiled = db.isTransaction ? undefined : this.#compiled.get(db);
    if (compiled === undefined) {
      compiled = this.#build(db, id).compile();
      // Cache the shape only when the id is its one and only parameter.
      if (!db.isTransaction && compiled.parameters.length === 1 && compiled.parameters[0] === id) this.#compiled.set(db, compiled);
    } else {
      // On SQLite, outside anyone's transaction: read at once (see directReaderOf).
      const read = directReaderOf(db);
      if (read !== undefined) {
        const row = read(compiled.sql, [id]);
        if (row !== NOT_NOW) return row as R | undefined;
      }
      compiled = { ...compiled, parameters: [id], queryId: createQueryId() };
    }
    return (await db.executeQuery(compiled)).rows[0];
  }
}
