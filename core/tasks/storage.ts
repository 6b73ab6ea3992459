// Where a task's snapshots are stored. In the built-in location every organization has one
// repository of its own in the default local storage folder
// (HOLDFAST_STORAGE_DIR/organizations/<id>), its passphrase derived from the appliance
// master key — so the storage folder plus the master key are enough to read the backups on a
// fresh appliance. A task records the location of its first snapshot and keeps it; a location
// this appliance does not know is refused rather than silently replaced.
//
// The appliance runs core/storage-locations/task-storage.ts, which keeps this layout for the
// built-in location and adds the configured ones; this one remains for tools and tests.
import { hkdfSync } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Repository, RepositoryError, type RepositoryOptions } from '../../storage/repository.ts';
import { AppError } from '../errors.ts';
import { sinkPlugin } from '../plugins/registry.ts';
import type { Sink } from '../plugins/sink.ts';

export interface OpenedRepository {
  repo: Repository;
  /** The location's name, stored on the task by its first snapshot. */
  location: string;
  /** Human-readable place without secrets, e.g. "local:/data/storage/organizations/…". */
  description: string;
  close(): Promise<void>;
}

export interface TaskRef {
  id: string;
  organizationId: string;
  storageLocation: string | null;
}

export interface OpenOptions {
  /**
   * The caller runs one job at a time and may get the repository object the last job closed,
   * brought up to date, instead of a fresh one (a job worker's backups: repository-pool.ts).
   */
  keep?: boolean;
}

export interface TaskStorage {
  /** Opens (creating on first use) the repository that holds the task's snapshots. */
  open(task: TaskRef, options?: OpenOptions): Promise<OpenedRepository>;
  /** Closes what it keeps open between jobs (a job worker's end). */
  close?(): Promise<void>;
  /** Deletes everything stored for an organization (the end of its removal grace period). */
  removeOrganization(organizationId: string): Promise<void>;
  /**
   * Removes stale locks (storage/locks.ts: expired, or of a process of this host that is gone)
   * from the repositories tasks use; names the locations it could not reach.
   */
  removeStaleLocks?(): Promise<{ removed: number; unreachable: string[] }>;
}

export const DEFAULT_LOCATION = 'default';

export class StorageLocationUnavailableError extends AppError {
  constructor(location: string) {
    super('storage_location_unavailable', `The storage location "${location}" of this task is not available.`, 409);
    this.name = 'StorageLocationUnavailableError';
  }
}

/** The repository passphrase of an organization in the default storage, derived from the master key. */
export function organizationPassphrase(masterKey: Buffer, organizationId: string): string {
  return Buffer.from(
    hkdfSync('sha256', masterKey, Buffer.from(organizationId, 'utf8'), 'holdfast organization repository v1', 32),
  ).toString('base64url');
}

/** Runs a repository's creation while no other creation of the same repository runs. */
export type InitSerializer = <T>(create: () => Promise<T>) => Promise<T>;

const unserialized: InitSerializer = (create) => create();

function notARepository(err: unknown): boolean {
  return err instanceof RepositoryError && err.code === 'not_a_repository';
}

/**
 * Opens the repository in the sink, creating it on first use. `passphrase` is the organization's
 * (organizationPassphrase: a derived key, so its key object is not stretched). `serializeInit` keeps two creations
 * of one repository apart (several nodes: core/storage-locations/repository-init-lock.ts): a
 * store that ignores If-None-Match lets both config writes of two racing inits succeed, the second
 * replacing the first, and leaves a repository whose marker and config disagree.
 */
export async function openOrInitRepository(
  sink: Sink,
  passphrase: string,
  options: RepositoryOptions = {},
  serializeInit: InitSerializer = unserialized,
): Promise<Repository> {
  try {
    return await Repository.open(sink, { passphrase }, options);
  } catch (err) {
    if (!notARepository(err)) throw err;
  }
  return serializeInit(async () => {
    // Created by another node while this one waited.
    try {
      return await Repository.open(sink, { passphrase }, options);
    } catch (err) {
      if (!notARepository(err)) throw err;
    }
    try {
      // The organization's passphrase is a key derived from the master key (organizationPassphrase).
      return await Repository.init(sink, { passphrase, derivedKey: true, ...options });
    } catch (initErr) {
      // Another job created it at the same moment.
      if (!(initErr instanceof RepositoryError && initErr.code === 'exists')) throw initErr;
      return Repository.open(sink, { passphrase }, options);
    }
  });
}

export function defaultTaskStorage(storageDir: string, masterKey: Buffer): TaskStorage {
  const folder = (organizationId: string) => join(storageDir, 'organizations', organizationId);
  return {
    async open(task) {
      if (task.storageLocation && task.storageLocation !== DEFAULT_LOCATION) {
        throw new StorageLocationUnavailableError(task.storageLocation);
      }
      const sink: Sink = await (sinkPlugin('local') as NonNullable<ReturnType<typeof sinkPlugin>>).create({
        path: folder(task.organizationId),
      });
      const repo = await openOrInitRepository(sink, organizationPassphrase(masterKey, task.organizationId));
      return {
        repo,
        location: DEFAULT_LOCATION,
        description: sink.description,
        close: () => {
          repo.close();
          return sink.close();
        },
      };
    },
    async removeOrganization(organizationId) {
      await rm(folder(organizationId), { recursive: true, force: true });
    },
  };
}
