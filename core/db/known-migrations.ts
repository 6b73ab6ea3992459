// Every migration this Holdfast knows, of both databases. Their names differ between SQLite and
// PostgreSQL (PostgreSQL's first migration builds what many of SQLite's did), so a record of
// another appliance's migrations (a configuration backup, a database being copied) is from a
// newer Holdfast exactly when it names one that is not here.
import { postgresqlMigrations } from './migrations/postgresql/index.ts';
import { sqliteMigrations } from './migrations/sqlite/index.ts';

export function knownMigrations(): Set<string> {
  return new Set([...sqliteMigrations, ...postgresqlMigrations].map((m) => m.name));
}
