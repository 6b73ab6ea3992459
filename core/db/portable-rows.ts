// Rows that move between databases: the configuration backup (core/dr) and `holdfast db
// migrate-to-postgres` (core/db/copy-to-postgres.ts). The portable form is SQLite's own, the
// one configuration backups have always carried: dates as epoch milliseconds, booleans as 0/1,
// JSON as its text. PostgreSQL's rows are turned into it when read and back when written, by
// the column types PostgreSQL's catalog names (SQLite's declared types cannot tell a boolean
// from an integer, and need no conversion).
import type { EntityManager } from '@mikro-orm/core';
import { dateFromSql, onPostgres, runSql } from './run-sql.ts';

export type ColumnKind = 'datetime' | 'boolean' | 'json' | 'binary' | 'plain';
export type Row = Record<string, unknown>;

/** A PostgreSQL data type (information_schema's data_type) as what its values need. */
export function columnKindOf(dataType: string): ColumnKind {
  if (dataType.startsWith('timestamp') || dataType === 'date') return 'datetime';
  if (dataType === 'boolean') return 'boolean';
  if (dataType === 'json' || dataType === 'jsonb') return 'json';
  if (dataType === 'bytea') return 'binary';
  return 'plain';
}

/** The PostgreSQL columns of every table of the current schema: table → column → kind. */
export async function postgresColumnKinds(
  query: (sql: string) => Promise<{ table_name: string; column_name: string; data_type: string }[]>,
): Promise<Map<string, Map<string, ColumnKind>>> {
  const out = new Map<string, Map<string, ColumnKind>>();
  const rows = await query(
    'select table_name, column_name, data_type from information_schema.columns where table_schema = current_schema() order by table_name, ordinal_position',
  );
  for (const r of rows) {
    const columns = out.get(r.table_name) ?? new Map<string, ColumnKind>();
    out.set(r.table_name, columns);
    columns.set(r.column_name, columnKindOf(r.data_type));
  }
  return out;
}

/** The column kinds of the EntityManager's database (empty on SQLite: its rows are portable already). */
export function columnKindsOf(em: EntityManager): Promise<Map<string, Map<string, ColumnKind>>> {
  if (!onPostgres(em)) return Promise.resolve(new Map());
  return postgresColumnKinds((sql) => runSql(em, sql));
}

/** A row read from PostgreSQL in the portable form. */
export function toPortable(row: Row, kinds: Map<string, ColumnKind> | undefined): Row {
  if (!kinds) return row;
  const out: Row = {};
  for (const [column, value] of Object.entries(row)) {
    const kind = kinds.get(column) ?? 'plain';
    if (value === null || value === undefined || kind === 'plain' || kind === 'binary') out[column] = value ?? null;
    else if (kind === 'datetime') out[column] = (dateFromSql(value) as Date).getTime();
    else if (kind === 'boolean') out[column] = value === true || value === 1 || value === '1' || value === 't' ? 1 : 0;
    // PostgreSQL's driver hands jsonb over parsed; a JSON string is text again only once stringified.
    else out[column] = JSON.stringify(value);
  }
  return out;
}

/** A portable row as PostgreSQL takes it as parameters (Date, boolean, JSON text, Buffer). */
export function fromPortable(row: Row, kinds: Map<string, ColumnKind> | undefined): Row {
  if (!kinds) return row;
  const out: Row = {};
  for (const [column, value] of Object.entries(row)) {
    const kind = kinds.get(column) ?? 'plain';
    if (value === null || value === undefined || kind === 'plain') out[column] = value ?? null;
    else if (kind === 'datetime') out[column] = dateFromSql(value);
    else if (kind === 'boolean') out[column] = value === true || Number(value) === 1;
    else if (kind === 'json') out[column] = typeof value === 'string' ? value : JSON.stringify(value);
    else out[column] = Buffer.isBuffer(value) ? value : Buffer.from(value as Uint8Array);
  }
  return out;
}

/**
 * Moves each serial column's sequence past the largest id its table holds, after rows were
 * written with their ids (PostgreSQL's sequences do not follow explicit ids by themselves).
 */
export async function resetSequences(
  query: (sql: string) => Promise<Record<string, unknown>[]>,
  tables: readonly string[],
): Promise<void> {
  const serial = (await query(
    "select table_name, column_name from information_schema.columns where table_schema = current_schema() and column_default like 'nextval(%'",
  )) as { table_name: string; column_name: string }[];
  const wanted = new Set(tables);
  for (const { table_name: table, column_name: column } of serial) {
    if (!wanted.has(table)) continue;
    const t = quoteIdentifier(table);
    const c = quoteIdentifier(column);
    await query(
      `select setval(pg_get_serial_sequence('${t.replaceAll("'", "''")}', '${column.replaceAll("'", "''")}'), coalesce((select max(${c}) from ${t}), 0) + 1, false)`,
    );
  }
}

/** An identifier quoted as both SQLite and PostgreSQL read it. */
export function quoteIdentifier(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/**
 * Rows of a table that references itself, parents before their children (a child whose
 * parent is not among the rows keeps its place among the first): PostgreSQL checks each
 * reference as the row is written.
 */
export function parentsFirst(rows: Row[], key: string, parent: string): Row[] {
  const byKey = new Map(rows.map((r) => [r[key], r]));
  const out: Row[] = [];
  const placed = new Set<unknown>();
  const place = (row: Row, depth: number) => {
    if (placed.has(row[key])) return;
    const up = row[parent];
    const parentRow = up === null || up === undefined ? undefined : byKey.get(up);
    // A cycle cannot be ordered; its rows are written as they come and the database names the fault.
    if (parentRow && depth < rows.length) place(parentRow, depth + 1);
    placed.add(row[key]);
    out.push(row);
  };
  for (const row of rows) place(row, 0);
  return out;
}
