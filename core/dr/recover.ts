// Recovering a lost appliance on a fresh one (`holdfast dr restore`, docs/OPERATIONS.md): the
// configuration backup is read from one storage location and opened with the recovery material
// (the master key export or the recovery passphrase); the master key is put back in place, the
// configuration rows are written into the new, empty database, and every repository of every
// organization at every location is re-attached and its catalog rebuilt from the repository.
// Runs in its own process: the catalog rebuild turns SQLite's foreign-key checks off on its
// connection (see docs/REPOSITORY.md, Catalog).
import { existsSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import type { EntityManager } from '@mikro-orm/core';
import type { Config } from '../../config/schema.ts';
import { MARKER_KEY, Repository, RepositoryError } from '../../storage/repository.ts';
import { readAll } from '../../storage/streams.ts';
import { openKernel } from '../appliance.ts';
import { reindexRepository } from '../catalog/indexer.ts';
import { onPostgres, runSql, withoutForeignKeyChecks } from '../db/catalog-sql.ts';
import { knownMigrations } from '../db/known-migrations.ts';
import { columnKindsOf, fromPortable, parentsFirst, quoteIdentifier, resetSequences } from '../db/portable-rows.ts';
import { Organization } from '../identity/entities.ts';
import { isSetupComplete } from '../identity/setup-service.ts';
import type { Logger } from '../logging.ts';
import { ObjectNotFoundError, type Sink } from '../plugins/sink.ts';
import { createCredentialCipher } from '../secrets/credential-cipher.ts';
import { writeMasterKeyFile } from '../secrets/master-key.ts';
import { attachRepository } from '../storage-locations/assignment.ts';
import { StorageLocation, StorageRepository } from '../storage-locations/entities.ts';
import { openLocationSink } from '../storage-locations/locations.ts';
import { prefixedSink } from '../storage-locations/prefixed-sink.ts';
import { ensureWritableDir } from '../system/data-dir.ts';
import { taskItemFields } from '../tasks/item-fields.ts';
import { organizationPassphrase } from '../tasks/storage.ts';
import {
  CONFIG_BACKUP_KEY,
  ConfigBackupError,
  type ConfigPayload,
  openConfigBackup,
  type RecoveryMaterial,
} from './sealed-backup.ts';
import { CONFIGURATION_TABLES, SELF_REFERENCES } from './tables.ts';

export class RecoveryError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RecoveryError';
  }
}

export interface RecoveryReport {
  written: Date;
  rows: Record<string, number>;
  repositories: { location: string; organization: string; snapshots: number }[];
  /** Repositories found but not readable (named with why). */
  unreadable: { location: string; organization: string; reason: string }[];
}

/** Reads and opens the configuration backup a location holds. */
export async function readConfigBackup(
  sink: Sink,
  material: RecoveryMaterial,
): Promise<ConfigPayload & { written: Date }> {
  let bytes: Buffer;
  try {
    bytes = await readAll(await sink.get(CONFIG_BACKUP_KEY));
  } catch (err) {
    if (err instanceof ObjectNotFoundError) {
      throw new RecoveryError(`${sink.description} holds no Holdfast configuration backup (${CONFIG_BACKUP_KEY})`);
    }
    throw err;
  }
  const written = new Date(JSON.parse(bytes.toString('utf8')).written ?? 0);
  return { ...openConfigBackup(bytes, material), written };
}

/**
 * Puts the master key where the configuration says. Another key is refused, except the one a
 * fresh appliance generated at its first start (`replaceUnusedKey`, checked by the caller: no
 * setup yet, so nothing was sealed with it).
 */
function placeMasterKey(config: Config, masterKey: Buffer, replaceUnusedKey: boolean): void {
  if (config.masterKey) {
    if (Buffer.from(config.masterKey.trim(), 'base64').equals(masterKey)) return;
    throw new RecoveryError(
      'HOLDFAST_MASTER_KEY is set to another key than the recovered appliance had: unset it or set it to that key',
    );
  }
  ensureWritableDir(config.dataDir, 'HOLDFAST_DATA_DIR');
  ensureWritableDir(dirname(config.masterKeyFile), 'HOLDFAST_MASTER_KEY_FILE');
  if (existsSync(config.masterKeyFile)) {
    if (Buffer.from(readFileSync(config.masterKeyFile, 'utf8').trim(), 'base64').equals(masterKey)) return;
    if (!replaceUnusedKey) {
      throw new RecoveryError(
        `${config.masterKeyFile} holds another master key: move it away first (this data folder is not fresh)`,
      );
    }
    // Written beside it and renamed over it: the file is never half written.
    const next = `${config.masterKeyFile}.recovered`;
    rmSync(next, { force: true });
    writeMasterKeyFile(next, masterKey);
    renameSync(next, config.masterKeyFile);
    return;
  }
  writeMasterKeyFile(config.masterKeyFile, masterKey);
}

async function insertRows(em: EntityManager, payload: ConfigPayload): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  // The backup's rows are in the portable form (SQLite's); PostgreSQL takes them converted.
  const kinds = await columnKindsOf(em);
  await withoutForeignKeyChecks(em, () =>
    em.transactional(async (tx) => {
      for (const table of CONFIGURATION_TABLES) {
        let rows = payload.tables[table] ?? [];
        const self = SELF_REFERENCES[table];
        // PostgreSQL checks each reference as the row is written (SQLite, after the transaction).
        if (self) rows = parentsFirst(rows, self.key, self.parent);
        await runSql(tx, `delete from ${quoteIdentifier(table)}`);
        for (const portable of rows) {
          const row = fromPortable(portable, kinds.get(table));
          const columns = Object.keys(row);
          const sql = `insert into ${quoteIdentifier(table)} (${columns.map(quoteIdentifier).join(', ')}) values (${columns.map(() => '?').join(', ')})`;
          await runSql(
            tx,
            sql,
            columns.map((c) => row[c]),
          );
        }
        counts[table] = rows.length;
      }
      if (onPostgres(tx)) await resetSequences((sql) => runSql(tx, sql), CONFIGURATION_TABLES);
    }),
  );
  if (!onPostgres(em)) {
    const broken = (await em.getConnection().execute('pragma foreign_key_check')) as unknown[];
    if (broken.length > 0)
      throw new RecoveryError(
        `the configuration backup's rows do not fit together (${broken.length} broken references)`,
      );
  }
  return counts;
}

/**
 * Re-attaches each organization's repository at each location: rebuilds its catalog from the
 * repository and records where it lives.
 */
async function reattachRepositories(
  em: EntityManager,
  config: Config,
  credentials: Parameters<typeof openLocationSink>[0]['credentials'],
  masterKey: Buffer,
  report: RecoveryReport,
): Promise<void> {
  const storage = { em, credentials, storageDir: config.storageDir };
  const organizations = await em.find(Organization, {}, { orderBy: { path: 'asc' } });
  for (const location of await em.find(StorageLocation, {}, { orderBy: { createdAt: 'asc' } })) {
    let base: Sink;
    try {
      base = await openLocationSink(storage, location);
    } catch (err) {
      report.unreadable.push({ location: location.name, organization: '(all)', reason: (err as Error).message });
      continue;
    }
    try {
      for (const org of organizations) {
        const sink = prefixedSink(base, `organizations/${org.id}/`);
        try {
          await sink.head(MARKER_KEY);
        } catch (err) {
          if (err instanceof ObjectNotFoundError) continue;
          throw err;
        }
        try {
          const repo = await Repository.open(sink, { passphrase: organizationPassphrase(masterKey, org.id) });
          try {
            const indexed = await reindexRepository(em.fork(), repo, sink.description, taskItemFields(em.fork()));
            const fork = em.fork();
            if (!(await fork.count(StorageRepository, { repository: repo.id }))) {
              await attachRepository(
                fork,
                repo.id,
                fork.getReference(Organization, org.id),
                fork.getReference(StorageLocation, location.id),
              );
              await fork.flush();
            }
            report.repositories.push({ location: location.name, organization: org.name, snapshots: indexed.snapshots });
          } finally {
            repo.close();
          }
        } catch (err) {
          if (!(err instanceof RepositoryError)) throw err;
          report.unreadable.push({ location: location.name, organization: org.name, reason: err.message });
        }
      }
    } finally {
      await base.close();
    }
  }
}

export async function recoverAppliance(
  config: Config,
  sink: Sink,
  material: RecoveryMaterial,
  log: Logger,
  options: { replaceUnusedKey?: boolean } = {},
): Promise<RecoveryReport> {
  let payload: Awaited<ReturnType<typeof readConfigBackup>>;
  try {
    payload = await readConfigBackup(sink, material);
  } catch (err) {
    if (err instanceof ConfigBackupError) throw new RecoveryError(err.message);
    throw err;
  }
  const masterKey = Buffer.from(payload.masterKey, 'base64');
  if (!options.replaceUnusedKey) placeMasterKey(config, masterKey, false);
  const kernel = await openKernel(config, log);
  try {
    const em = kernel.orm.em.fork();
    if (await isSetupComplete(em)) {
      throw new RecoveryError('this appliance is already set up: recover into a fresh data folder');
    }
    if (options.replaceUnusedKey) placeMasterKey(config, masterKey, true);
    // Migration names differ between the databases (PostgreSQL's first one builds what many of
    // SQLite's did): a backup is newer when it names a migration this Holdfast does not know.
    const known = knownMigrations();
    const newer = payload.migrations.filter((m) => !known.has(m));
    if (newer.length) {
      throw new RecoveryError(
        `the configuration backup was made by a newer Holdfast (migrations ${newer.join(', ')}): upgrade first`,
      );
    }
    const report: RecoveryReport = {
      written: payload.written,
      rows: await insertRows(em, payload),
      repositories: [],
      unreadable: [],
    };
    // The recovered key, not the one this process opened with (a generated one, with --replace-unused-key).
    await reattachRepositories(kernel.orm.em.fork(), config, createCredentialCipher(masterKey), masterKey, report);
    return report;
  } finally {
    await kernel.close();
  }
}
