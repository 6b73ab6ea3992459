// Opens the database and brings its schema up to date. Migrations run at every start-up
// (and by `holdfast migrate`), so an upgraded appliance migrates itself before serving.
import { chmodSync, closeSync, existsSync, openSync, statSync } from 'node:fs';
import { MikroORM } from '@mikro-orm/core';
import type { Migrator } from '@mikro-orm/migrations';
import { type DatabaseSettings, databaseKind, type OrmChoices, ormOptions } from '../../config/orm.ts';

export { type DatabaseKind, databaseKind } from '../../config/orm.ts';

export type Database = MikroORM;

export async function openDatabase(settings: DatabaseSettings, choices: OrmChoices = {}): Promise<Database> {
  if (databaseKind(settings) === 'sqlite') keepDatabaseFilesPrivate(settings.databasePath);
  return MikroORM.init(await ormOptions(settings, choices));
}

/**
 * The database holds password hashes and the mail outbox (live reset links): it is created 0600
 * whatever the umask, and one left readable by others (older versions) is made private again.
 * SQLite creates its -wal and -shm files with the database file's mode.
 */
function keepDatabaseFilesPrivate(path: string): void {
  if (!path || path === ':memory:' || path.startsWith('file:')) return;
  if (!existsSync(path)) closeSync(openSync(path, 'a', 0o600));
  for (const file of [path, `${path}-wal`, `${path}-shm`]) {
    try {
      const mode = statSync(file).mode & 0o777;
      if (mode & 0o077) chmodSync(file, mode & 0o700);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
}

/** Where the database is, for people: the SQLite file, or PostgreSQL's URL without its password. */
export function describeDatabase(settings: Pick<DatabaseSettings, 'databasePath' | 'databaseUrl'>): string {
  if (!settings.databaseUrl) return settings.databasePath;
  const url = new URL(settings.databaseUrl);
  if (url.password) url.password = '***';
  return `${url.toString()} (PostgreSQL)`;
}

export function migrator(orm: Database): Migrator {
  return orm.migrator as Migrator;
}

/** Applies pending migrations; returns the names applied. */
export async function migrate(orm: Database): Promise<string[]> {
  const applied = await migrator(orm).up();
  return applied.map((m) => m.name);
}

/** True when the database answers a trivial query. */
export async function isDatabaseReachable(orm: Database): Promise<boolean> {
  try {
    await orm.em.fork().getConnection().execute('select 1 as ok');
    return true;
  } catch {
    return false;
  }
}
