// `holdfast db migrate-to-postgres` (docs/OPERATIONS.md, "Moving from SQLite to PostgreSQL"):
// copies a stopped appliance's SQLite database, every table, into a PostgreSQL database this
// Holdfast has migrated, then proves the copy by row counts and per-table checksums.
//
// Streaming: each table is read with one SQLite cursor and written in multi-row INSERTs of at
// most `batchRows` rows, so memory stays flat whatever the database's size. Tables go parents
// first (PostgreSQL's foreign keys), a table that references itself (organizations) by depth.
// Everything is written in one transaction: a failed copy leaves the target as it was. User
// triggers (account_health's counters) are off while copying: the copied counters are already
// right and must not be counted again. Sequences are set past the copied ids at the end.
//
// The checksum of a table is order-free (the sum of each row's SHA-256 modulo 2^128) over the
// rows in the portable form (./portable-rows.ts), JSON with its keys sorted (PostgreSQL's jsonb
// keeps no key order): the same number from both databases when every row arrived unchanged.
import { createHash } from 'node:crypto';
import { MikroORM } from '@mikro-orm/core';
import Database from 'better-sqlite3';
import pg from 'pg';
import { ormOptions } from '../../config/orm.ts';
import { knownMigrations } from './known-migrations.ts';
import { sqliteMigrations } from './migrations/sqlite/index.ts';
import {
  type ColumnKind,
  fromPortable,
  postgresColumnKinds,
  quoteIdentifier,
  type Row,
  resetSequences,
  toPortable,
} from './portable-rows.ts';
import { dateFromSql } from './run-sql.ts';

/** The copy cannot start (named why); nothing was written. */
export class CopyRefusedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CopyRefusedError';
  }
}

export interface TableCopy {
  table: string;
  sourceRows: number;
  targetRows: number;
  sourceChecksum: string;
  targetChecksum: string;
}

export interface CopyReport {
  tables: TableCopy[];
  /** Every table's rows and checksum agree. */
  verified: boolean;
}

export interface CopyOptions {
  /** The SQLite database file of a stopped appliance. */
  from: string;
  /** postgres://user:password@host:port/database */
  to: string;
  /** Empty the target's tables first instead of refusing a target that holds rows. */
  force?: boolean;
  /** Rows per INSERT (fewer when a table has many columns: PostgreSQL takes 65535 parameters). */
  batchRows?: number;
  /** Progress, one line per table. */
  progress?: (line: string) => void;
}

/** PostgreSQL's most parameters in one statement. */
const MAX_PARAMETERS = 65_535;
const CHECKSUM_MODULUS = 1n << 128n;

/** Tables the copy leaves out: each database keeps its own migration record. */
const NOT_COPIED = new Set(['schema_migrations']);

interface ForeignKey {
  child: string;
  column: string;
  parent: string;
  references: string;
}

export async function copySqliteToPostgres(options: CopyOptions): Promise<CopyReport> {
  const progress = options.progress ?? (() => {});
  const source = openSource(options.from);
  try {
    checkSourceMigrations(source);
    await migrateTarget(options.to);
    const target = new pg.Client({ connectionString: options.to });
    await target.connect();
    try {
      const query = async (sql: string, params: unknown[] = []) => (await target.query(sql, params)).rows;
      const kinds = await postgresColumnKinds(query as never);
      const tables = sourceTables(source);
      checkColumns(source, tables, kinds);
      const keys = (await query(FOREIGN_KEYS_SQL)) as ForeignKey[];
      const ordered = parentsFirstOrder(tables, keys);
      await emptyOrRefuse(query, ordered, options.force ?? false);
      const copies: TableCopy[] = [];
      await query('begin');
      try {
        for (const table of ordered) await query(`alter table ${quoteIdentifier(table)} disable trigger user`);
        for (const table of ordered) {
          const self = keys.find((k) => k.child === table && k.parent === table);
          const copied = await copyTable(source, target, table, kinds.get(table) ?? new Map(), self, options);
          progress(`${table}: ${copied.rows} rows copied`);
          copies.push({
            table,
            sourceRows: copied.rows,
            sourceChecksum: copied.checksum,
            targetRows: 0,
            targetChecksum: '',
          });
        }
        await resetSequences(query as never, ordered);
        for (const table of ordered) await query(`alter table ${quoteIdentifier(table)} enable trigger user`);
        await query('commit');
      } catch (err) {
        await query('rollback');
        throw err;
      }
      for (const copy of copies) {
        const read = await targetChecksum(
          target,
          copy.table,
          sourceColumns(source, copy.table),
          kinds.get(copy.table) ?? new Map(),
        );
        copy.targetRows = read.rows;
        copy.targetChecksum = read.checksum;
      }
      return {
        tables: copies,
        verified: copies.every((c) => c.sourceRows === c.targetRows && c.sourceChecksum === c.targetChecksum),
      };
    } finally {
      await target.end();
    }
  } finally {
    source.close();
  }
}

function openSource(file: string): Database.Database {
  try {
    const db = new Database(file, { readonly: true, fileMustExist: true });
    db.prepare('select count(*) from sqlite_master').get();
    return db;
  } catch (err) {
    throw new CopyRefusedError(`cannot open ${file} as an SQLite database: ${(err as Error).message}`);
  }
}

/** The source must be at this Holdfast's schema: not older (migrate it first), not newer. */
function checkSourceMigrations(source: Database.Database): void {
  const hasRecord = source
    .prepare("select 1 from sqlite_master where type = 'table' and name = 'schema_migrations'")
    .get();
  if (!hasRecord) throw new CopyRefusedError('the source is not a Holdfast database (it has no schema_migrations)');
  const applied = new Set(
    (source.prepare('select name from schema_migrations').all() as { name: string }[]).map((r) => r.name),
  );
  const known = knownMigrations();
  const newer = [...applied].filter((m) => !known.has(m));
  if (newer.length)
    throw new CopyRefusedError(`the source was migrated by a newer Holdfast (${newer.join(', ')}): upgrade first`);
  const missing = sqliteMigrations.map((m) => m.name).filter((m) => !applied.has(m));
  if (missing.length)
    throw new CopyRefusedError(
      `the source misses ${missing.length} migration(s) of this Holdfast: run \`holdfast migrate\` on it first (with HOLDFAST_DATA_DIR set to its data folder)`,
    );
}

async function migrateTarget(url: string): Promise<void> {
  let orm: MikroORM;
  try {
    orm = await MikroORM.init(await ormOptions({ databasePath: '', databaseBusyTimeoutMs: 5000, databaseUrl: url }));
  } catch (err) {
    throw new CopyRefusedError(`cannot connect to the target database: ${(err as Error).message}`);
  }
  try {
    await orm.migrator.up();
  } finally {
    await orm.close();
  }
}

/** The source's tables, without SQLite's own, full-text (virtual) tables and their shadow tables. */
function sourceTables(source: Database.Database): string[] {
  const all = source
    .prepare("select name, sql from sqlite_master where type = 'table' and name not like 'sqlite_%' order by name")
    .all() as { name: string; sql: string | null }[];
  const virtual = all.filter((t) => /^create virtual table/i.test(t.sql ?? '')).map((t) => t.name);
  return all
    .map((t) => t.name)
    .filter((name) => !NOT_COPIED.has(name) && !virtual.some((v) => name === v || name.startsWith(`${v}_`)));
}

function sourceColumns(source: Database.Database, table: string): string[] {
  return (source.prepare(`select name from pragma_table_info(?)`).all(table) as { name: string }[]).map((c) => c.name);
}

function checkColumns(source: Database.Database, tables: string[], kinds: Map<string, Map<string, ColumnKind>>): void {
  for (const table of tables) {
    const target = kinds.get(table);
    if (!target) throw new CopyRefusedError(`the target has no table ${table}`);
    const columns = sourceColumns(source, table);
    const absent = columns.filter((c) => !target.has(c));
    if (absent.length) throw new CopyRefusedError(`the target's table ${table} has no column ${absent.join(', ')}`);
  }
}

const FOREIGN_KEYS_SQL = `select cl.relname as child, a.attname as column, pcl.relname as parent, pa.attname as references
  from pg_constraint c
  join pg_class cl on cl.oid = c.conrelid
  join pg_class pcl on pcl.oid = c.confrelid
  join pg_namespace n on n.oid = cl.relnamespace
  cross join lateral unnest(c.conkey, c.confkey) as k(child_att, parent_att)
  join pg_attribute a on a.attrelid = c.conrelid and a.attnum = k.child_att
  join pg_attribute pa on pa.attrelid = c.confrelid and pa.attnum = k.parent_att
  where c.contype = 'f' and n.nspname = current_schema()`;

/** The tables, each after those it references (a reference to itself aside). */
export function parentsFirstOrder(tables: string[], keys: ForeignKey[]): string[] {
  const wanted = new Set(tables);
  const out: string[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (table: string, path: string[]) => {
    if (state.get(table) === 'done') return;
    if (state.get(table) === 'visiting')
      throw new CopyRefusedError(`the tables reference each other in a cycle: ${[...path, table].join(' → ')}`);
    state.set(table, 'visiting');
    for (const k of keys) {
      if (k.child === table && k.parent !== table && wanted.has(k.parent)) visit(k.parent, [...path, table]);
    }
    state.set(table, 'done');
    out.push(table);
  };
  for (const table of [...tables].sort()) visit(table, []);
  return out;
}

async function emptyOrRefuse(
  query: (sql: string) => Promise<Record<string, unknown>[]>,
  tables: string[],
  force: boolean,
): Promise<void> {
  const filled: string[] = [];
  for (const table of tables) {
    const [row] = await query(`select exists (select 1 from ${quoteIdentifier(table)}) as filled`);
    if (row?.filled) filled.push(table);
  }
  if (filled.length === 0) return;
  if (!force)
    throw new CopyRefusedError(
      `the target already holds rows (${filled.slice(0, 5).join(', ')}${filled.length > 5 ? ', …' : ''}): copy into an empty database, or give --force to empty it first`,
    );
  await query(`truncate ${tables.map(quoteIdentifier).join(', ')} restart identity cascade`);
}

/** A row's SHA-256 over its portable values, column names sorted, JSON with sorted keys. */
function rowHash(row: Row, kinds: Map<string, ColumnKind>): bigint {
  const parts = Object.keys(row)
    .sort()
    .map((column) => [column, canonical(row[column], kinds.get(column) ?? 'plain')]);
  const digest = createHash('sha256').update(JSON.stringify(parts)).digest();
  return digest.readBigUInt64BE(0) * (1n << 64n) + digest.readBigUInt64BE(8);
}

function canonical(value: unknown, kind: ColumnKind): unknown {
  if (value === null || value === undefined) return null;
  if (kind === 'json') return sortedJson(typeof value === 'string' ? JSON.parse(value) : value);
  if (kind === 'binary') return Buffer.from(value as Uint8Array).toString('hex');
  if (kind === 'datetime') return dateFromSql(value)?.getTime() ?? null;
  if (kind === 'boolean') return Number(value);
  // PostgreSQL holds no NUL in text: the copy writes U+FFFD in its place, as the appliance does.
  if (typeof value === 'string') return value.replaceAll('\0', '\uFFFD');
  return String(value);
}

function sortedJson(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortedJson);
  if (value && typeof value === 'object')
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((k) => [k, sortedJson((value as Row)[k])]),
    );
  return value;
}

function checksumHex(sum: bigint): string {
  return sum.toString(16).padStart(32, '0');
}

/** The source's rows of a table; a self-referencing one by depth, parents first. */
function sourceRows(source: Database.Database, table: string, self: ForeignKey | undefined) {
  const t = quoteIdentifier(table);
  if (!self) return source.prepare(`select * from ${t}`).iterate() as IterableIterator<Row>;
  const key = quoteIdentifier(self.references);
  const parent = quoteIdentifier(self.column);
  return source
    .prepare(
      `with recursive tree(k, depth) as (
         select c.${key}, 0 from ${t} c where c.${parent} is null or not exists (select 1 from ${t} p where p.${key} = c.${parent})
         union all select c.${key}, tree.depth + 1 from ${t} c join tree on c.${parent} = tree.k
       ) select r.* from ${t} r join tree on tree.k = r.${key} order by tree.depth`,
    )
    .iterate() as IterableIterator<Row>;
}

async function copyTable(
  source: Database.Database,
  target: pg.Client,
  table: string,
  kinds: Map<string, ColumnKind>,
  self: ForeignKey | undefined,
  options: CopyOptions,
): Promise<{ rows: number; checksum: string }> {
  let rows = 0;
  let sum = 0n;
  let batch: Row[] = [];
  let columns: string[] = [];
  let batchRows = options.batchRows ?? 1000;
  const flush = async () => {
    if (batch.length === 0) return;
    const params: unknown[] = [];
    const tuples = batch.map((row) => {
      const values = fromPortable(row, kinds);
      return `(${columns
        .map((c) => {
          const v = values[c];
          params.push(typeof v === 'string' ? v.replaceAll('\0', '\uFFFD') : v);
          return `$${params.length}`;
        })
        .join(', ')})`;
    });
    await target.query(
      `insert into ${quoteIdentifier(table)} (${columns.map(quoteIdentifier).join(', ')}) values ${tuples.join(', ')}`,
      params,
    );
    batch = [];
  };
  for (const row of sourceRows(source, table, self)) {
    if (rows === 0) {
      columns = Object.keys(row);
      batchRows = Math.max(1, Math.min(batchRows, Math.floor(MAX_PARAMETERS / Math.max(1, columns.length))));
    }
    rows++;
    sum = (sum + rowHash(row, kinds)) % CHECKSUM_MODULUS;
    batch.push(row);
    if (batch.length >= batchRows) await flush();
  }
  await flush();
  return { rows, checksum: checksumHex(sum) };
}

/**
 * The target's rows of a table, read back through a cursor, counted and summed: the source's
 * columns only (PostgreSQL's generated ones, e.g. the catalog's search document, are not copied).
 */
async function targetChecksum(
  target: pg.Client,
  table: string,
  columns: string[],
  kinds: Map<string, ColumnKind>,
): Promise<{ rows: number; checksum: string }> {
  let rows = 0;
  let sum = 0n;
  await target.query('begin');
  try {
    await target.query(
      `declare verify no scroll cursor for select ${columns.map(quoteIdentifier).join(', ')} from ${quoteIdentifier(table)}`,
    );
    for (;;) {
      const page = (await target.query('fetch 2000 from verify')).rows as Row[];
      if (page.length === 0) break;
      for (const row of page) {
        rows++;
        sum = (sum + rowHash(toPortable(row, kinds), kinds)) % CHECKSUM_MODULUS;
      }
    }
  } finally {
    await target.query('commit');
  }
  return { rows, checksum: checksumHex(sum) };
}
