// The appliance's configuration backup: its configuration rows (tables.ts) and master key,
// sealed (sealed-backup.ts) and written into every storage location as CONFIG_BACKUP_KEY, so a
// fresh appliance recovers organizations, users, tasks, schedules and locations from any one of
// them (recover.ts). `ConfigBackupLoop` writes it after a change: every few seconds it reads the
// rows and writes them only when they differ from the last written (debounced by the interval).
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/core';
import { columnKindsOf, toPortable } from '../db/portable-rows.ts';
import { onPostgres } from '../db/run-sql.ts';
import type { Logger } from '../logging.ts';
import { type RoundGuard, unguarded } from '../pass-loop.ts';
import type { CredentialCipher } from '../secrets/credential-cipher.ts';
import { StorageLocation } from '../storage-locations/entities.ts';
import { openLocationSink } from '../storage-locations/locations.ts';
import { SystemFact } from '../system/entities.ts';
import { CONFIG_BACKUP_KEY, type ConfigPayload, passphraseKek, sealConfigBackup } from './sealed-backup.ts';
import { CONFIGURATION_TABLES } from './tables.ts';

export const APPLIANCE_ID_FACT = 'appliance.id';
export const RECOVERY_PASSPHRASE_FACT = 'recovery.passphrase';
const PASSPHRASE_CONTEXT = 'recovery passphrase';

export interface ConfigBackupContext {
  em: EntityManager;
  credentials: CredentialCipher;
  masterKey: Buffer;
  storageDir: string;
  now: Date;
}

/** This appliance's id (made once): it names whose configuration backup a file is. */
export async function applianceId(em: EntityManager): Promise<string> {
  const fact = await em.findOne(SystemFact, { key: APPLIANCE_ID_FACT });
  if (fact) return fact.value;
  const id = randomUUID();
  await em.upsert(SystemFact, { key: APPLIANCE_ID_FACT, value: id, createdAt: new Date() });
  return (await em.findOneOrFail(SystemFact, { key: APPLIANCE_ID_FACT }, { refresh: true })).value;
}

/** Sets (or replaces) the recovery passphrase: kept as its derived key, sealed with the master key. */
export async function setRecoveryPassphrase(
  em: EntityManager,
  credentials: CredentialCipher,
  passphrase: string,
): Promise<void> {
  const salt = randomBytes(16);
  const kek = passphraseKek(passphrase, salt);
  const value = JSON.stringify({
    salt: salt.toString('base64'),
    kek: credentials.encrypt(kek.toString('base64'), PASSPHRASE_CONTEXT),
  });
  await em.upsert(SystemFact, { key: RECOVERY_PASSPHRASE_FACT, value, createdAt: new Date() });
}

export async function hasRecoveryPassphrase(em: EntityManager): Promise<boolean> {
  return (await em.count(SystemFact, { key: RECOVERY_PASSPHRASE_FACT })) > 0;
}

async function passphraseKey(em: EntityManager, credentials: CredentialCipher) {
  const fact = await em.findOne(SystemFact, { key: RECOVERY_PASSPHRASE_FACT });
  if (!fact) return null;
  const { salt, kek } = JSON.parse(fact.value) as { salt: string; kek: string };
  return {
    salt: Buffer.from(salt, 'base64'),
    kek: Buffer.from(credentials.decrypt(kek, PASSPHRASE_CONTEXT), 'base64'),
  };
}

/** The configuration rows, table by table, in a stable order. */
export async function configurationRows(em: EntityManager): Promise<ConfigPayload['tables']> {
  const connection = em.getConnection();
  // Written in the portable form (SQLite's: core/db/portable-rows.ts), whichever database reads it.
  const kinds = await columnKindsOf(em);
  const tables: ConfigPayload['tables'] = {};
  for (const table of CONFIGURATION_TABLES) {
    const rows = (await connection.execute(`select * from "${table}" order by ${rowOrder(em, table)}`)) as Record<
      string,
      unknown
    >[];
    tables[table] = rows.map((row) => toPortable(row, kinds.get(table)));
  }
  return tables;
}

/** SQLite's insertion order (rowid); PostgreSQL has none that lasts, so the primary key's. */
function rowOrder(em: EntityManager, table: string): string {
  if (!onPostgres(em)) return 'rowid';
  const meta = [...em.getMetadata()].find((m) => m.tableName === table);
  const columns: string[] = (meta?.getPrimaryProps() ?? []).flatMap((p) => p.fieldNames);
  if (columns.length === 0) throw new Error(`no primary key known for ${table}`);
  return columns.map((c) => `"${c}"`).join(', ');
}

export async function appliedMigrations(em: EntityManager): Promise<string[]> {
  const rows = (await em.getConnection().execute('select name from schema_migrations order by id')) as {
    name: string;
  }[];
  return rows.map((r) => r.name);
}

export interface WriteReport {
  /** Names of the locations written. */
  written: string[];
  /** Locations that could not be written, with why. */
  failed: { location: string; reason: string }[];
  /** SHA-256 of the rows written (what the loop compares). */
  fingerprint: string;
}

export function fingerprintOf(tables: ConfigPayload['tables']): string {
  return createHash('sha256').update(JSON.stringify(tables)).digest('hex');
}

/** Seals the configuration and writes it into every storage location. */
export async function writeConfigBackup(
  ctx: ConfigBackupContext,
  tables?: ConfigPayload['tables'],
): Promise<WriteReport> {
  const rows = tables ?? (await configurationRows(ctx.em));
  const sealed = sealConfigBackup(
    { masterKey: ctx.masterKey.toString('base64'), migrations: await appliedMigrations(ctx.em), tables: rows },
    {
      appliance: await applianceId(ctx.em),
      written: ctx.now,
      masterKey: ctx.masterKey,
      passphrase: await passphraseKey(ctx.em, ctx.credentials),
    },
  );
  const report: WriteReport = { written: [], failed: [], fingerprint: fingerprintOf(rows) };
  const storage = { em: ctx.em, credentials: ctx.credentials, storageDir: ctx.storageDir };
  for (const location of await ctx.em.find(StorageLocation, {}, { orderBy: { createdAt: 'asc' } })) {
    try {
      const sink = await openLocationSink(storage, location);
      try {
        await sink.put(CONFIG_BACKUP_KEY, sealed, { contentLength: sealed.length });
      } finally {
        await sink.close();
      }
      report.written.push(location.name);
    } catch (err) {
      report.failed.push({ location: location.name, reason: (err as Error).message });
    }
  }
  return report;
}

/** Writes the configuration backup when the rows changed since the last write; checked every `intervalMs`. */
export class ConfigBackupLoop {
  readonly #context: () => ConfigBackupContext;
  readonly #log: Logger;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #written: string | undefined;

  readonly #guard: RoundGuard;

  /**
   * `guard`: one node of a cluster writes at a time, and the fingerprint it wrote is the lease's
   * mark, so the next node to check does not write the same configuration again.
   */
  constructor(context: () => ConfigBackupContext, log: Logger, guard: RoundGuard = unguarded) {
    this.#context = context;
    this.#log = log;
    this.#guard = guard;
  }

  start(intervalMs: number): void {
    this.#timer = setInterval(() => void this.check(), intervalMs);
    this.#timer.unref();
  }

  /** One check (skipped while one runs); resolves when it is done. */
  check(): Promise<void> {
    this.#running ??= this.#guard(async (mark) => {
      const ctx = this.#context();
      const tables = await configurationRows(ctx.em);
      const fingerprint = fingerprintOf(tables);
      if (fingerprint === (mark ?? this.#written)) return { mark: fingerprint };
      const report = await writeConfigBackup(ctx, tables);
      // A location that could not be written is tried again at the next check.
      if (report.failed.length === 0) this.#written = report.fingerprint;
      if (report.failed.length)
        this.#log.warn({ failed: report.failed }, 'configuration backup not written everywhere');
      else this.#log.info({ locations: report.written.length }, 'configuration backup written');
      return report.failed.length === 0 ? { mark: report.fingerprint } : undefined;
    })
      .then(() => undefined)
      .catch((err: unknown) => this.#log.warn({ err }, 'configuration backup failed'))
      .finally(() => {
        this.#running = undefined;
      });
    return this.#running;
  }

  /** Stops checking; writes a last time if something changed (a graceful stop loses no change). */
  async stop(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    await this.#running;
    await this.check();
  }
}
