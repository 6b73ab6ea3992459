// MikroORM configuration. This is the only place that knows the database is SQLite: the
// driver, its pragmas (WAL, busy timeout) and the folder of SQLite migrations. A PostgreSQL
// driver (the scale-out path) adds a sibling branch here and its own migrations folder.
import { fileURLToPath } from 'node:url';
import type { Options } from '@mikro-orm/core';
import { Migrator } from '@mikro-orm/migrations';
import { SqlitePlatform } from '@mikro-orm/sql';
import { defineConfig, SqliteDriver } from '@mikro-orm/sqlite';
import { CompiledQuery, type DatabaseConnection } from 'kysely';
import { kernelEntities } from '../core/db/entities.ts';
import { sqliteMigrations } from '../core/db/migrations/sqlite/index.ts';

export const sqliteMigrationsDir = fileURLToPath(new URL('../core/db/migrations/sqlite/', import.meta.url));

export interface DatabaseSettings {
  databasePath: string;
  databaseBusyTimeoutMs: number;
}

/**
 * MikroORM writes every value into the SQL text as a literal (it binds none), and SQLite reads
 * SQL text only up to a NUL byte: a value holding one (typed into any search or form field) cut
 * the statement short, a syntax error and a 500. Such strings are written as their UTF-8 bytes in a
 * blob literal cast to text, which is the same value and holds no quote or NUL.
 */
class NulSafeSqlitePlatform extends SqlitePlatform {
  override escape(value: unknown): string {
    if (typeof value === 'string' && value.includes('\0')) {
      return `cast(x'${Buffer.from(value, 'utf8').toString('hex')}' as text)`;
    }
    return super.escape(value);
  }
}

class HoldfastSqliteDriver extends SqliteDriver {
  constructor(config: ConstructorParameters<typeof SqliteDriver>[0]) {
    super(config);
    // The configuration reads the platform from the driver once constructed; connections get it on connect.
    (this as unknown as { platform: SqlitePlatform }).platform = new NulSafeSqlitePlatform();
  }
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
    schemaGenerator: { skipTables: [/^catalog_items_fts/] },
    ensureDatabase: false,
    allowGlobalContext: false,
    debug: false,
  }) as Options;
}
