// MikroORM configuration. This is the only place that picks the database: the embedded SQLite
// file by default (./sqlite-driver.ts: values bound as parameters; WAL, busy timeout; the
// SQLite migrations), or PostgreSQL when HOLDFAST_DATABASE_URL is set (the scale-out mode: a
// connection pool, the PostgreSQL migrations). Both migration sets bring a database to the schema
// of the same entities (tests/integration/migrations.test.ts checks it for each).
//
// Only the chosen database's driver and migrations are loaded (dynamic imports below): every
// isolate that opens the database — the server's and each job worker's — would otherwise hold
// both MikroORM drivers (PostgreSQL's with `pg`, ~4 MiB of heap) and both migration sets; a job
// worker asks for no migrations at all (the server migrates at start-up).
import { fileURLToPath } from 'node:url';
import type { Options } from '@mikro-orm/core';
import { CompiledQuery, type DatabaseConnection } from 'kysely';
import { kernelEntities } from '../core/db/entities.ts';

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

export interface OrmChoices {
  /** False: no migrator (a job worker; the server migrates). Default true. */
  migrations?: boolean;
}

export async function ormOptions(settings: DatabaseSettings, choices: OrmChoices = {}): Promise<Options> {
  const kind = databaseKind(settings);
  const options = kind === 'postgresql' ? await postgresqlOptions(settings) : await sqliteOptions(settings);
  if (choices.migrations === false) return options;
  const [{ Migrator }, migrationsList] = await Promise.all([
    import('@mikro-orm/migrations'),
    kind === 'postgresql'
      ? import('../core/db/migrations/postgresql/index.ts').then((m) => m.postgresqlMigrations)
      : import('../core/db/migrations/sqlite/index.ts').then((m) => m.sqliteMigrations),
  ]);
  return {
    ...options,
    extensions: [Migrator],
    migrations: { ...options.migrations, migrationsList },
  } as Options;
}

const common = {
  entities: kernelEntities,
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

async function sqliteOptions(settings: DatabaseSettings): Promise<Options> {
  const { HoldfastSqliteDriver } = await import('./sqlite-driver.ts');
  return {
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
      snapshotName: '.snapshot-sqlite',
    },
    // The full-text index (FTS5 table and its shadow tables) is managed by core/db/sqlite-catalog.ts.
    // Triggers are written by hand in migrations (account_health's and subtree_health's, core/tenancy/entities.ts).
    schemaGenerator: { skipTables: [/^catalog_items_fts/], ignoreTriggers: true },
    ensureDatabase: false,
  } as unknown as Options;
}

async function postgresqlOptions(settings: DatabaseSettings): Promise<Options> {
  const { HoldfastPostgreSqlDriver } = await import('./postgres-driver.ts');
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
      snapshotName: '.snapshot-postgresql',
    },
    // Triggers, functions and the full-text index are written by hand in the migrations
    // (core/db/postgres-catalog.ts); the schema generator leaves them alone.
    schemaGenerator: { ignoreTriggers: true, ignoreRoutines: true },
    // The database named by the URL is created when missing (the role needs CREATEDB for that).
    ensureDatabase: true,
  } as unknown as Options;
}
