// The backup jobs' storage (TaskStorage of core/tasks/storage.ts) over the storage locations: a
// task without a location yet goes to its organization's location (own choice, else the default
// from above, else the built-in one), which is then pinned as the organization's own choice; a
// task that committed a snapshot keeps its location. Each organization has one repository per
// location: the built-in one keeps the original layout (HOLDFAST_STORAGE_DIR/organizations/<id>,
// recorded on tasks as "default"); any other location holds it under "organizations/<id>/".
// A location that does not answer when a backup or maintenance opens it is an exceptions incident
// of its owner (core/notifications/storage-incidents.ts), resolved by the next open that works.
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { removeLocks } from '../../storage/locks.ts';
import type { Database } from '../db/database.ts';
import { type IOrganization, Organization } from '../identity/entities.ts';
import { storageLocationAnswered, storageLocationFailed } from '../notifications/storage-incidents.ts';
import { sinkPlugin } from '../plugins/registry.ts';
import { ObjectLockedError, type Sink, SinkError } from '../plugins/sink.ts';
import type { CredentialCipher } from '../secrets/credential-cipher.ts';
import { NodeLocalStorageRefusedError } from '../system/node-role.ts';
import { BackupTask } from '../tasks/entities.ts';
import {
  DEFAULT_LOCATION,
  openOrInitRepository,
  organizationPassphrase,
  StorageLocationUnavailableError,
  type TaskStorage,
} from '../tasks/storage.ts';
import { ancestorIds } from '../tenancy/organizations.ts';
import { pinOrganizationLocation, resolveLocation } from './assignment.ts';
import { type IStorageLocation, StorageLocation } from './entities.ts';
import { immutableSink } from './immutable-sink.ts';
import { BUILTIN_LOCATION_ID, ensureBuiltinLocation, openLocationSink, type StorageContext } from './locations.ts';
import { prefixedSink } from './prefixed-sink.ts';
import { repositoryInitLock } from './repository-init-lock.ts';
import { RepositoryPool } from './repository-pool.ts';

export interface LocationTaskStorageOptions {
  orm: Database;
  credentials: CredentialCipher;
  storageDir: string;
  masterKey: Buffer;
  /**
   * Folder for the repositories' blob index files (storage/blob-index.ts): blobIndexDir(config),
   * on the data disk rather than the OS temp folder, which may be a tmpfs held in memory.
   */
  indexDir?: string;
  /** The clock locks are counted from (immutability: retainUntil = now + the period). */
  now?: () => number;
  /**
   * Keeps repositories opened with `{ keep: true }` open between jobs (job workers: one backup
   * job at a time each). Absent: every open opens afresh.
   */
  keepOpen?: { idleMs: number; maxAgeMs: number };
  /** Multi-node mode (core/system/node-role.ts): local-disk locations are refused. */
  multiNode?: boolean;
}

/** Where the appliance keeps its disposable blob index files: under its data folder. */
export function blobIndexDir(config: { dataDir: string }): string {
  return join(config.dataDir, 'cache', 'blob-index');
}

/**
 * The store did not answer or refused to work (unreachable, down, a folder that is gone): errors
 * of the sink itself, not a wrong key or damaged data, which are problems of the repository.
 */
function isOutage(err: unknown): boolean {
  // The repository wraps some (a location that became a file is "not a repository"): its cause tells.
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    if (e instanceof SinkError) return e.kind === 'transient' || e.kind === 'permanent';
  }
  return false;
}

export function locationTaskStorage(options: LocationTaskStorageOptions): TaskStorage {
  const builtinFolder = (organizationId: string) => join(options.storageDir, 'organizations', organizationId);

  /** The organization's repository sink at the location, and the name tasks record for it. */
  const sinkAt = async (
    ctx: StorageContext,
    location: IStorageLocation,
    organizationId: string,
  ): Promise<{ sink: Sink; name: string }> => {
    if (location.builtin) {
      const local = sinkPlugin('local');
      if (!local) throw new Error('the local sink plugin is missing');
      return { sink: await local.create({ path: builtinFolder(organizationId) }), name: DEFAULT_LOCATION };
    }
    return {
      // Outermost, so the keys it sees are the repository's own (data/, index/, snapshots/).
      sink: immutableSink(
        prefixedSink(await openLocationSink(ctx, location), `organizations/${organizationId}/`),
        options.now,
      ),
      name: location.id,
    };
  };

  /** The location a task records, if this appliance has it and the organization may use it. */
  const recorded = async (ctx: StorageContext, org: IOrganization, name: string): Promise<IStorageLocation | null> => {
    if (name === DEFAULT_LOCATION || name === BUILTIN_LOCATION_ID) return ensureBuiltinLocation(ctx.em);
    const location = await ctx.em.findOne(StorageLocation, { id: name }, { populate: ['organization'] });
    const owner = location?.organization as IOrganization | undefined;
    return location && owner && ancestorIds(org).includes(owner.id) ? location : null;
  };

  const contextOf = (): StorageContext => ({
    em: options.orm.em.fork(),
    credentials: options.credentials,
    storageDir: options.storageDir,
  });

  const pool = options.keepOpen ? new RepositoryPool(options.keepOpen) : undefined;

  /** Another node would not find what this one writes on its own disk. */
  const refuseNodeLocal = (location: IStorageLocation) => {
    if (options.multiNode && (location.builtin || sinkPlugin(location.kind)?.nodeLocal)) {
      throw new NodeLocalStorageRefusedError(location.name);
    }
  };

  return {
    async open(task, openOptions) {
      const ctx = contextOf();
      const org = await ctx.em.findOne(Organization, { id: task.organizationId });
      if (!org) throw new StorageLocationUnavailableError(task.storageLocation ?? 'of a removed organization');
      let location: IStorageLocation | null;
      if (task.storageLocation) {
        location = await recorded(ctx, org, task.storageLocation);
        if (!location) throw new StorageLocationUnavailableError(task.storageLocation);
      } else {
        location = (await resolveLocation(ctx.em, org)).location;
        refuseNodeLocal(location);
        // Backups start here: a later change of a default above must not move them.
        location = await pinOrganizationLocation(ctx.em, org, location);
      }
      refuseNodeLocal(location);
      const ref = { id: location.id, name: location.name, organizationId: location.organization.id };
      // A location's changed settings (updatedAt) open a new sink rather than reuse the old one.
      const poolKey = `${location.id} ${org.id} ${location.updatedAt?.getTime() ?? ''}`;
      const keep = openOptions?.keep ? pool : undefined;
      const kept = await keep?.take(poolKey);
      if (keep && kept) {
        return {
          repo: kept.repo,
          location: location.builtin ? DEFAULT_LOCATION : location.id,
          description: kept.sink.description,
          close: () => keep.give(poolKey, kept),
        };
      }
      let opened: { sink: Sink; name: string };
      try {
        opened = await sinkAt(ctx, location, org.id);
      } catch (err) {
        if (isOutage(err)) await storageLocationFailed(options.orm.em, ref, org.id, (err as Error).message, new Date());
        throw err;
      }
      const { sink, name } = opened;
      try {
        if (options.indexDir) await mkdir(options.indexDir, { recursive: true });
        let repo: Awaited<ReturnType<typeof openOrInitRepository>>;
        try {
          repo = await openOrInitRepository(
            sink,
            organizationPassphrase(options.masterKey, org.id),
            options.indexDir ? { indexDir: options.indexDir } : {},
            repositoryInitLock(options.orm.em, location.id, org.id),
          );
        } catch (err) {
          if (isOutage(err))
            await storageLocationFailed(options.orm.em, ref, org.id, (err as Error).message, new Date());
          throw err;
        }
        await storageLocationAnswered(options.orm.em, ref, org.id, new Date());
        const openedAt = Date.now();
        return {
          repo,
          location: name,
          description: sink.description,
          close: keep
            ? () => keep.give(poolKey, { repo, sink, openedAt })
            : () => {
                repo.close();
                return sink.close();
              },
        };
      } catch (err) {
        await sink.close().catch(() => undefined);
        throw err;
      }
    },

    async close() {
      await pool?.closeAll();
    },

    async removeStaleLocks() {
      const ctx = contextOf();
      const tasks = await ctx.em.find(BackupTask, { storageLocation: { $ne: null } });
      const pairs = new Map(tasks.map((t) => [`${t.organization.id} ${t.storageLocation}`, t]));
      let removed = 0;
      const unreachable: string[] = [];
      for (const task of pairs.values()) {
        const org = await ctx.em.findOne(Organization, { id: task.organization.id });
        const location = org && (await recorded(ctx, org, task.storageLocation as string));
        if (!org || !location) continue;
        try {
          const { sink } = await sinkAt(ctx, location, org.id);
          try {
            removed += (await removeLocks(sink)).length;
          } finally {
            await sink.close();
          }
        } catch {
          unreachable.push(location.id);
        }
      }
      return { removed, unreachable };
    },

    async removeOrganization(organizationId) {
      await rm(builtinFolder(organizationId), { recursive: true, force: true });
      const ctx = contextOf();
      const org = await ctx.em.findOne(Organization, { id: organizationId });
      if (!org) return;
      const tasks = await ctx.em.find(BackupTask, { organization: organizationId, storageLocation: { $ne: null } });
      const names = new Set(tasks.map((t) => t.storageLocation as string));
      for (const name of names) {
        const location = await recorded(ctx, org, name);
        if (!location || location.builtin) continue;
        const { sink } = await sinkAt(ctx, location, organizationId);
        try {
          // Locked objects stay until their lock lapses (the store refuses): nothing renews them.
          for await (const info of sink.list(''))
            await sink.delete(info.key).catch((err: unknown) => {
              if (!(err instanceof ObjectLockedError)) throw err;
            });
        } finally {
          await sink.close();
        }
      }
    },
  };
}
