// MikroORM configuration. This is the only place that picks the database: the embedded SQLite
// file by default (./sqlite-driver.ts: values bound as parameters; WAL, busy timeout; the
// SQLite migrations), or PostgreSQL when HOLDFAST_DATABASE_URL is set (the scale-out mode: a
// connection pool, the PostgreSQL migrations). Both migration sets bring a database to the schema
// of the same entities (tests/integration/migrations.test.ts checks it for each).
import { fileURLToPath } from 'node:url';
import type { Options } from '@mikro-orm/core';
import { Migrator } from '@mikro-orm/migrations';
import { defineConfig } from '@mikro-orm/sqlite';
import { CompiledQuery, type DatabaseConnection } from 'kysely';
import { kernelEntities } from '../core/db/entities.ts';
import { postgresqlMigrations } from '../core/db/migrations/postgresql/index.ts';
import { sqliteMigrations } from '../core/db/migrations/sqlite/index.ts';
import { HoldfastPostgreSqlDriver } from './postgres-driver.ts';
import { HoldfastSqliteDriver } from './sqlite-driver.ts';

export const sqliteMigrationsDir = fileURLToPath(new URL('../core/db/migrations/sqlite/', import.meta.url));
export const postgresqlMigrationsDir = fileURLToPath(new URL('../core/db/migrations/postgresql/', import.meta.url));

export interface DatabaseSettings {
  databasePath: string;
  databaseBusyTimeoutMs: number;
  /** A postgres:// URL selects PostgreSQL; unset, the SQLite file `databasePath`. */
  databaseUrl?: string | undefined;
  /** PostgreSQL: the most connections of this process's pool. */
  databasePoolSize?: number | undefined;
}

export type DatabaseKind = 'sqlite' | 'postgresql';

export function databaseKind(settings: Pick<DatabaseSettings, 'databaseUrl'>): DatabaseKind {
  return settings.databaseUrl ? 'postgresql' : 'sqlite';
}

export function ormOptions(settings: DatabaseSettings): Options {
  return databaseKind(settings) === 'postgresql' ? postgresqlOptions(settings) : sqliteOptions(settings);
}

const common = {
  entities: kernelEntities,
  extensions: [Migrator],
  allowGlobalContext: false,
  debug: false,
};

const migrationDefaults = {
  tableName: 'schema_migrations',
  // Each migration commits on its own: one that rebuilds tables must run outside a transaction.
  allOrNothing: false,
  snapshotOnMigrate: false,
  silent: true,
} as const;

function sqliteOptions(settings: DatabaseSettings): Options {
  return defineConfig({
    ...common,
    driver: HoldfastSqliteDriver,
    dbName: settings.databasePath,
    // better-sqlite3's `timeout` is SQLite's busy timeout.
    driverOptions: { timeout: settings.databaseBusyTimeoutMs },
    onCreateConnection: async (connection: unknown) => {
      const conn = connection as DatabaseConnection;
      await conn.executeQuery(CompiledQuery.raw('pragma journal_mode = WAL'));
      await conn.executeQuery(CompiledQuery.raw('pragma synchronous = NORMAL'));
    },
    migrations: {
      ...migrationDefaults,
      path: sqliteMigrationsDir,
      pathTs: sqliteMigrationsDir,
      migrationsList: sqliteMigrations,
      snapshotName: '.snapshot-sqlite',
    },
    // The full-text index (FTS5 table and its shadow tables) is managed by core/db/sqlite-catalog.ts.
    // Triggers are written by hand in migrations (account_health's and subtree_health's, core/tenancy/entities.ts).
    schemaGenerator: { skipTables: [/^catalog_items_fts/], ignoreTriggers: true },
    ensureDatabase: false,
  }) as Options;
}

function postgresqlOptions(settings: DatabaseSettings): Options {
  return {
    ...common,
    driver: HoldfastPostgreSqlDriver,
    clientUrl: settings.databaseUrl,
    // Pool sizing: docs/OPERATIONS.md. Idle connections close after a minute.
    pool: { min: 0, max: settings.databasePoolSize ?? 10, idleTimeoutMillis: 60_000 },
    // A lock wait as long as SQLite's busy timeout, then an error instead of a hang.
    onCreateConnection: async (connection: unknown) => {
      const conn = connection as DatabaseConnection;
      await conn.executeQuery(CompiledQuery.raw(`set lock_timeout = ${Math.trunc(settings.databaseBusyTimeoutMs)}`));
    },
    migrations: {
      ...migrationDefaults,
      path: postgresqlMigrationsDir,
      pathTs: postgresqlMigrationsDir,
      migrationsList: postgresqlMigrations,
      snapshotName: '.snapshot-postgresql',
    },
    // Triggers, functions and the full-text index are written by hand in the migrations
    // (core/db/postgres-catalog.ts); the schema generator leaves them alone.
    schemaGenerator: { ignoreTriggers: true, ignoreRoutines: true },
    // The database named by the URL is created when missing (the role needs CREATEDB for that).
    ensureDatabase: true,
  } as unknown as Options;
}
