// MikroORM configuration. This is the only place that knows the database is SQLite: the
// driver (./sqlite-driver.ts: values bound as parameters), its pragmas (WAL, busy timeout) and
// the folder of SQLite migrations. A PostgreSQL driver (the scale-out path) adds a sibling
// branch here and its own migrations folder.
import { fileURLToPath } from 'node:url';
import type { Options } from '@mikro-orm/core';
import { Migrator } from '@mikro-orm/migrations';
import { defineConfig } from '@mikro-orm/sqlite';
import { CompiledQuery, type DatabaseConnection } from 'kysely';
import { kernelEntities } from '../core/db/entities.ts';
import { sqliteMigrations } from '../core/db/migrations/sqlite/index.ts';
import { HoldfastSqliteDriver } from './sqlite-driver.ts';

export const sqliteMigrationsDir = fileURLToPath(new URL('../core/db/migrations/sqlite/', import.meta.url));

export interface DatabaseSettings {
  databasePath: string;
  databaseBusyTimeoutMs: number;
}

export function ormOptions(settings: DatabaseSettings): Options {
  return defineConfig({
    driver: HoldfastSqliteDriver,
    dbName: settings.databasePath,
    entities: kernelEntities,
    extensions: [Migrator],
    // better-sqlite3's `timeout` is SQLite's busy timeout.
    driverOptions: { timeout: settings.databaseBusyTimeoutMs },
    onCreateConnection: async (connection: unknown) => {
      const conn = connection as DatabaseConnection;
      await conn.executeQuery(CompiledQuery.raw('pragma journal_mode = WAL'));
      await conn.executeQuery(CompiledQuery.raw('pragma synchronous = NORMAL'));
    },
    migrations: {
      tableName: 'schema_migrations',
      path: sqliteMigrationsDir,
      pathTs: sqliteMigrationsDir,
      migrationsList: sqliteMigrations,
      // Each migration commits on its own: one that rebuilds tables must run outside a transaction.
      allOrNothing: false,
      snapshotOnMigrate: false,
      snapshotName: '.snapshot-sqlite',
      silent: true,
    },
    // The full-text index (FTS5 table and its shadow tables) is managed by core/db/sqlite-catalog.ts.
    // Triggers are written by hand in migrations (account_health's, core/tenancy/entities.ts).
    schemaGenerator: { skipTables: [/^catalog_items_fts/], ignoreTriggers: true },
    ensureDatabase: false,
    allowGlobalContext: false,
    debug: false,
  }) as Options;
}
