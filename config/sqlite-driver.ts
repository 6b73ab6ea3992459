// The SQLite driver as the appliance uses it: MikroORM's, with values bound as parameters. MikroORM
// 7 writes every value into the SQL text as a quoted literal and sends no parameters; SQLite
// reads SQL text only up to a NUL byte, so a value holding one (typed into any search or form
// field) cut the statement short: a syntax error and a 500. Here the values of each statement
// are bound instead, and the few literals MikroORM still writes itself (values inside raw
// fragments it formats early) are NUL-safe.
import { isRaw, JsonProperty, type Raw, Utils } from '@mikro-orm/core';
import { SqlitePlatform } from '@mikro-orm/sql';
import { SqliteConnection, SqliteDriver } from '@mikro-orm/sqlite';
import type { Database, Statement } from 'better-sqlite3';
import { CompiledQuery } from 'kysely';
import { FOLD_FUNCTION, foldText } from '../core/db/fold.ts';

class NulSafeSqlitePlatform extends SqlitePlatform {
  /** Strings holding a NUL become their UTF-8 bytes as a blob literal cast to text: the same value. */
  override escape(value: unknown): string {
    if (typeof value === 'string' && value.includes('\0')) {
      return `cast(x'${Buffer.from(value, 'utf8').toString('hex')}' as text)`;
    }
    return super.escape(value);
  }
}

/** A value as better-sqlite3 binds it, the way SqlitePlatform.escape would have written it. */
function bindable(value: unknown): unknown {
  if (value === undefined || value === null) return null;
  if (typeof value === 'boolean') return value ? 1n : 0n;
  // better-sqlite3 binds every JS number as REAL; whole numbers go as INTEGER (BigInt), as the
  // literal `5` would (a REAL 5 stored into a text column would read back as "5.0").
  if (value instanceof Date) return BigInt(value.getTime());
  if (typeof value === 'number') return Number.isSafeInteger(value) ? BigInt(value) : value;
  if (typeof value === 'bigint' || typeof value === 'string') return value;
  if (Buffer.isBuffer(value)) return value;
  if (Utils.isPlainObject(value) || (value as { [JsonProperty]?: unknown })?.[JsonProperty])
    return JSON.stringify(value);
  return String(value);
}

/**
 * `sql` with `?` placeholders and `params` (MikroORM's: `??` is an identifier, `\?` a literal
 * question mark, an array one placeholder per element, a raw fragment its own SQL) turned into SQL
 * whose every value is a bound parameter. Scans like Platform.formatQuery, so both agree on what
 * is a placeholder.
 */
export function bindQuery(platform: SqlitePlatform, sql: string, params: readonly unknown[]) {
  const values: unknown[] = [];
  let j = 0;
  const value = (param: unknown): string => {
    if (isRaw(param)) {
      const inner = bindQuery(platform, (param as Raw).sql, (param as Raw).params as unknown[]);
      values.push(...inner.values);
      return inner.sql;
    }
    if (Array.isArray(param)) return param.map(value).join(', ');
    values.push(bindable(param));
    return '?';
  };
  if (params.length === 0) return { sql, values };
  let out = '';
  let pos = 0;
  if (sql.startsWith('??')) {
    out += platform.quoteIdentifier(params[j++] as string);
    pos = 2;
  } else if (sql.startsWith('?')) {
    out += value(params[j++]);
    pos = 1;
  }
  while (pos < sql.length) {
    const at = sql.indexOf('?', pos + 1);
    if (at === -1) {
      out += sql.substring(pos);
      break;
    }
    if (sql.substring(at - 1, at + 1) === '\\?') {
      out += `${sql.substring(pos, at - 1)}?`;
      pos = at + 1;
    } else if (sql.substring(at, at + 2) === '??') {
      out += sql.substring(pos, at) + platform.quoteIdentifier(params[j++] as string);
      pos = at + 2;
    } else {
      out += sql.substring(pos, at) + value(params[j++]);
      pos = at + 1;
    }
  }
  return { sql: out, values };
}

type ExecuteArgs = Parameters<SqliteConnection['execute']>;
interface Internals {
  prepareQuery(query: unknown, params: unknown[]): { query: string; params: unknown[]; formatted: string };
  getSql(query: string, formatted: string, context?: unknown): string;
  executeQuery<T>(sql: string, cb: () => Promise<T>, context?: unknown): Promise<T>;
  transformRawResult(res: unknown, method: string): unknown;
  getClient(): { executeQuery(query: CompiledQuery, options?: unknown): Promise<unknown> };
}

const MAX_CACHED_STATEMENTS = 500;

/**
 * Kysely prepares every statement it runs again; preparing cost more than running most of a
 * page's queries. Statements are kept by their SQL (values are bound, so the text repeats) and
 * reused unless an open iterator (a streamed export) still holds one; the least recently used
 * go past a bound. SQLite re-prepares a kept statement itself when the schema changes.
 */
function reusePreparedStatements(database: Database): void {
  const prepare = database.prepare.bind(database);
  const cache = new Map<string, Statement>();
  database.prepare = ((sql: string) => {
    const kept = cache.get(sql);
    if (kept && !kept.busy) {
      cache.delete(sql);
      cache.set(sql, kept);
      return kept;
    }
    const fresh = prepare(sql);
    if (!kept) {
      if (cache.size >= MAX_CACHED_STATEMENTS) cache.delete(cache.keys().next().value as string);
      cache.set(sql, fresh);
    }
    return fresh;
  }) as Database['prepare'];
}

type Dialect = ReturnType<SqliteConnection['createKyselyDialect']>;
type KyselyDriver = ReturnType<Dialect['createDriver']>;

/**
 * Transactions begin IMMEDIATE. The server and its job worker threads each hold a connection to
 * the same file; a deferred transaction that reads first holds a read snapshot, and when another
 * connection commits before it writes, SQLite refuses the upgrade at once ("database is locked",
 * no busy wait). Taking the write lock at BEGIN makes the other writer wait its busy timeout
 * instead. Reads outside transactions are unaffected (WAL readers never wait).
 */
function beginImmediate(dialect: Dialect): void {
  const createDriver = dialect.createDriver.bind(dialect);
  dialect.createDriver = () => {
    const driver = createDriver();
    driver.beginTransaction = async (connection: Parameters<KyselyDriver['beginTransaction']>[0]) => {
      await connection.executeQuery(CompiledQuery.raw('begin immediate'));
    };
    return driver;
  };
}

class BindingSqliteConnection extends SqliteConnection {
  /** Every new database handle gets the fold function the "contains" searches call. */
  override createKyselyDialect(options: Parameters<SqliteConnection['createKyselyDialect']>[0]) {
    const dialect = super.createKyselyDialect(options);
    const { database } = this as unknown as { database: Database };
    database.function(FOLD_FUNCTION, { deterministic: true }, (value: unknown) =>
      value === null || value === undefined ? null : foldText(String(value)),
    );
    reusePreparedStatements(database);
    beginImmediate(dialect);
    return dialect;
  }

  /** As AbstractSqlConnection.execute, but the statement's values go as bound parameters. */
  override async execute(...[query, params = [], method = 'all', ctx, loggerContext]: ExecuteArgs): Promise<never> {
    await this.ensureConnection();
    const self = this as unknown as Internals;
    const q = self.prepareQuery(query, params as unknown[]);
    const bound = bindQuery(this.platform as SqlitePlatform, q.query, q.params);
    const sql = self.getSql(q.query, q.formatted, loggerContext);
    const { signal, inflightQueryAbortStrategy, ...context } = (loggerContext ?? {}) as Record<string, unknown>;
    const abort =
      signal == null && inflightQueryAbortStrategy == null ? undefined : { signal, inflightQueryAbortStrategy };
    return self.executeQuery(
      sql,
      async () => {
        const client = (ctx ?? self.getClient()) as ReturnType<Internals['getClient']>;
        const res = await client.executeQuery(CompiledQuery.raw(bound.sql, bound.values), abort);
        return self.transformRawResult(res, method as string);
      },
      { ...q, ...context },
    ) as Promise<never>;
  }
}

export class HoldfastSqliteDriver extends SqliteDriver {
  constructor(config: ConstructorParameters<typeof SqliteDriver>[0]) {
    super(config);
    // The configuration reads the platform from the constructed driver; connections get it on connect.
    const self = this as unknown as { platform: SqlitePlatform; connection: SqliteConnection; replicas: unknown[] };
    self.platform = new NulSafeSqlitePlatform();
    self.connection = new BindingSqliteConnection(this.config);
    self.replicas = [];
  }
}
