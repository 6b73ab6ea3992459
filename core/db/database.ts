// Opens the database and brings its schema up to date. Migrations run at every start-up
// (and by `holdfast migrate`), so an upgraded appliance migrates itself before serving.
import { MikroORM } from '@mikro-orm/core';
import type { Migrator } from '@mikro-orm/migrations';
import { type DatabaseSettings, ormOptions } from '../../config/orm.ts';

export type Database = MikroORM;

export async function openDatabase(settings: DatabaseSettings): Promise<Database> {
  return MikroORM.init(ormOptions(settings));
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
