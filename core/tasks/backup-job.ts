// One backup run of one entity: open the task's repository under a shared lock, let the service
// plugin stream the entity's items into a snapshot writer, commit the snapshot, then record the
// plugin's new state with the entity. The state is stored only after the snapshot is committed,
// so a failed, cancelled or interrupted run leaves the previous snapshot and state in force (its
// uploaded packs stay unreferenced until prune removes them).

import type { EntityManager } from '@mikro-orm/core';
import { withLock } from '../../storage/locks.ts';
import { type Repository, RepositoryError, type SnapshotManifest } from '../../storage/repository.ts';
import { diffSnapshots, findSnapshotItem, snapshotItems } from '../../storage/snapshot-state.ts';
import { SnapshotWriter } from '../../storage/snapshot-writer.ts';
import { type ItemEntry, TreeNodeCache } from '../../storage/tree.ts';
import { CatalogRepository } from '../catalog/entities.ts';
import { forgetSnapshots } from '../catalog/forget.ts';
import { type ChangeCounts, indexSnapshot } from '../catalog/indexer.ts';
import { itemFieldMap } from '../catalog/item-fields.ts';
import { JobInterruption, JobNotApplicableError, type JobOutcome, type JobRun } from '../jobs/handler.ts';
import { type BackupItemWriter, type PreviousItem, ServiceAuthError } from '../plugins/service.ts';
import { evaluateSmartAlerts } from '../smart-alerts/evaluate.ts';
import { connectTask, markConnection } from './connection.ts';
import { TaskEntity } from './entities.ts';

export async function runBackupJob(run: JobRun): Promise<JobOutcome> {
  const { ctx, em, job, signal, progress, log } = run;
  if (!job.entity) throw new Error('a backup job needs an entity');
  const entity = await em.findOne(TaskEntity, { id: job.entity.id }, { populate: ['task'] });
  const task = entity?.task;
  if (!entity || !task || entity.deletedAt || task.deletedAt) {
    throw new JobNotApplicableError('The entity or its backup task was deleted.');
  }
  if (entity.status === 'unavailable') {
    throw new JobNotApplicableError(`${entity.name} is unavailable at the service: ${entity.unavailableReason ?? ''}`);
  }
  if (entity.status === 'paused' || entity.status === 'archived' || entity.status === 'not_active') {
    throw new JobNotApplicableError(`${entity.name} is ${entity.status.replace('_', ' ')}, so it is not backed up.`);
  }
  if (task.status === 'paused' && job.initiatorKind === 'schedule') {
    throw new JobNotApplicableError('The backup task is paused.');
  }
  const plugin = ctx.services(task.service);
  if (!plugin) throw new Error(`the service plugin "${task.service}" is not installed on this appliance`);

  entity.status = 'in_process';
  await em.flush();
  progress.step = 'connecting';
  const opened = await ctx.storage.open(
    { id: task.id, organizationId: task.organization.id, storageLocation: task.storageLocation ?? null },
    { keep: true },
  );
  try {
    const { repo } = opened;
    const outcome = await withLock(
      repo.sink,
      'shared',
      { purpose: `backup of ${entity.name}`.slice(0, 200) },
      async () => {
        const parent = entity.lastSnapshotId ? await loadIfPresent(repo, entity.lastSnapshotId) : undefined;
        const writer = new SnapshotWriter(repo, {
          task: task.id,
          entity: entity.externalId,
          ...(parent ? { parent: parent.id } : {}),
          mode: plugin.snapshots.mode,
          ...(plugin.snapshots.layered ? { layered: true } : {}),
        });
        // The parent's tree nodes the plugin's lookups read (its previous version of each changed
        // row): the upper levels are read once for the run, not once a row.
        const nodes = new TreeNodeCache();
        const items: BackupItemWriter = {
          hasParent: !!parent,
          add: async (item, content) => {
            const entry = await writer.add(item, content);
            progress.items++;
            progress.bytes += entry.size;
          },
          carryOver: async (key) => {
            await writer.carryOver(key);
            progress.items++;
          },
          delete: (key) => writer.delete(key),
          previous: async (key) =>
            parent ? previousItem(await findSnapshotItem(repo, parent.manifest, key, nodes)) : undefined,
          previousItems: async function* () {
            if (!parent) return;
            for await (const entry of snapshotItems(repo, parent.manifest)) yield previousItem(entry) as PreviousItem;
          },
          addFromPrevious: async (item, from) => {
            const source = parent ? await findSnapshotItem(repo, parent.manifest, from, nodes) : undefined;
            if (!source) throw new Error(`the previous snapshot has no item ${JSON.stringify(from)}`);
            const entry = await writer.addExisting(item, source);
            progress.items++;
            progress.bytes += entry.size;
          },
        };
        const connection = await connectTask(em, task, plugin, ctx.credentials, signal, log, ctx.now());
        let result: Awaited<ReturnType<typeof connection.backup>>;
        try {
          progress.step = 'reading items';
          result = await connection.backup({
            entity: { externalId: entity.externalId, name: entity.name, kind: entity.kind },
            state: entity.pluginState ?? undefined,
            writer: items,
            signal,
            step: (text) => {
              progress.step = text;
            },
            apiUsageLimitPercent: task.apiUsageLimitPercent ?? null,
            log,
          });
          // A plugin that returns after the signal fired must not get its snapshot committed.
          signal.throwIfAborted();
        } catch (err) {
          await writer.abort();
          // Refused in the middle of a run (a token revoked at the service): Disconnected, as at connect.
          if (err instanceof ServiceAuthError) await markConnection(em, task, false, err.message);
          throw err;
        } finally {
          await connection.close?.();
        }
        progress.step = 'committing';
        // The manifest is written only while the job is still this run's (a node whose lease
        // lapsed and whose job another node took leaves its packs to prune).
        const committed = await writer.commit(
          { failedItems: result.failedItems?.length ?? 0 },
          { beforeManifest: () => run.confirmHeld(em.fork()) },
        );
        // Always catalogued: Recovery browses snapshots through the catalog. "Index for search"
        // decides only whether Recovery offers item search for the task.
        progress.step = 'indexing';
        if (!(await em.count(CatalogRepository, { id: repo.id }))) {
          em.create(CatalogRepository, { id: repo.id, location: opened.description, indexedAt: null });
          await em.flush();
        }
        // The catalog's pass over the run's changes counts them too (one diff of the two snapshots).
        const tally: ChangeCounts = { added: 0, updated: 0, deleted: 0 };
        const counted = await indexSnapshot(em, repo, committed, parent, itemFieldMap(plugin.searchFields), undefined, {
          documents: true,
          changes: tally,
        });
        const changes = counted.snapshots ? tally : await countChanges(repo, parent?.manifest, committed.manifest);
        return { result, committed, changes, parentItems: parent ? parent.manifest.stats.items : null };
      },
      repo,
    );

    const failed = outcome.result.failedItems?.length ?? 0;
    const stoppedEarly = outcome.result.partialReason?.trim() || undefined;
    const partial = failed > 0 || !!stoppedEarly;
    const now = ctx.now();
    await em
      .transactional(async (tx) => {
        // Fenced: the snapshot is recorded only while the job is still this run's.
        await run.confirmHeld(tx);
        const fresh = await tx.findOneOrFail(TaskEntity, { id: entity.id }, { populate: ['task'] });
        // The items before this run (a percentage's base); none when the run had no parent snapshot.
        const itemsBefore = outcome.parentItems;
        fresh.pluginState = outcome.result.state as never;
        fresh.lastSnapshotId = outcome.committed.id;
        fresh.lastRunAt = now;
        fresh.lastAdded = outcome.changes.added;
        fresh.lastUpdated = outcome.changes.updated;
        fresh.lastDeleted = outcome.changes.deleted;
        fresh.lastItems = outcome.committed.manifest.stats.items;
        fresh.lastBytes = outcome.committed.manifest.stats.bytes;
        // What this run wrote to the sink (packs, index, snapshot), after dedup and compression.
        fresh.storedBytes = Number(fresh.storedBytes) + opened.repo.stats.bytesUploaded;
        const unread = failed ? `${failed} item(s) could not be read: ${outcome.result.failedItems?.[0]?.reason}` : '';
        fresh.lastError = [stoppedEarly, unread].filter(Boolean).join(' ') || null;
        // Paused or deleted meanwhile: the snapshot counts, the status the user chose stays.
        if (fresh.status === 'in_process') fresh.status = partial ? 'partial' : 'success';
        fresh.task.storageLocation ??= opened.location;
        if (plugin.smartAlerts) {
          await evaluateSmartAlerts(tx, {
            task: fresh.task,
            entity: fresh,
            jobId: job.id,
            itemsBefore,
            changes: outcome.changes,
            ...(outcome.result.changesBy ? { changesBy: outcome.result.changesBy } : {}),
            at: now,
          });
        }
      })
      .catch(async (err: unknown) => {
        // Taken over between the manifest and its record (this node stalled longer than a lease):
        // the snapshot is not this job's result, so it leaves the repository and the catalog again.
        if (err instanceof JobInterruption && err.reason === 'lease_lost') {
          await withdrawSnapshot(em, opened.repo, outcome.committed.id).catch((cause: unknown) =>
            log.warn({ err: cause, snapshot: outcome.committed.id }, 'could not withdraw a snapshot of a lost job'),
          );
        }
        throw err;
      });
    em.clear();
    return {
      state: partial ? 'partially_succeeded' : 'succeeded',
      result: {
        snapshotId: outcome.committed.id,
        items: outcome.committed.manifest.stats.items,
        bytes: outcome.committed.manifest.stats.bytes,
        ...outcome.changes,
        failedItems: failed,
        // The first few, for the activity log's summary.
        ...(failed
          ? { failedItemNames: outcome.result.failedItems?.slice(0, 20).map((f) => f.key.slice(0, 300)) }
          : {}),
        ...(stoppedEarly ? { stoppedEarly: stoppedEarly.slice(0, 1000) } : {}),
        // The service's API calls of this run, where the plugin counts them (the usage report).
        ...(typeof outcome.result.apiCalls === 'number' ? { apiCalls: outcome.result.apiCalls } : {}),
      },
      // Words the job log shows as is (the snapshot's id stays in the result, not the sentence).
      message: `Backup saved: ${outcome.changes.added} added, ${outcome.changes.updated} changed, ${outcome.changes.deleted} removed${failed ? `, ${failed} failed` : ''}${stoppedEarly ? `; stopped early: ${stoppedEarly}` : ''}`,
    };
  } finally {
    await opened.close();
  }
}

/**
 * Takes a snapshot this run committed but may not record back out: its manifest from the
 * repository (under the run's shared lock: no prune runs, and no other run has it as a parent,
 * since no entity names it) and its rows from the catalog.
 */
async function withdrawSnapshot(em: EntityManager, repo: Repository, id: string): Promise<void> {
  await repo.forgetSnapshot(id);
  await forgetSnapshots(em.fork(), repo.id, (snapshot) => snapshot === id);
}

function previousItem(entry: ItemEntry | undefined): PreviousItem | undefined {
  if (!entry) return undefined;
  return { key: entry.key, kind: entry.kind, size: entry.size, ...(entry.meta ? { meta: entry.meta } : {}) };
}

async function loadIfPresent(
  repo: Repository,
  id: string,
): Promise<{ id: string; manifest: SnapshotManifest } | undefined> {
  try {
    return { id, manifest: await repo.loadSnapshot(id) };
  } catch (err) {
    // Pruned or never there (an older appliance state): a full run without a parent is correct.
    if (err instanceof RepositoryError && err.code === 'not_a_repository') return undefined;
    throw err;
  }
}

async function countChanges(
  repo: Repository,
  before: SnapshotManifest | undefined,
  after: SnapshotManifest,
): Promise<{ added: number; updated: number; deleted: number }> {
  if (!before) return { added: after.stats.items, updated: 0, deleted: 0 };
  const counts = { added: 0, updated: 0, deleted: 0 };
  for await (const change of diffSnapshots(repo, before, after)) {
    if (change.change === 'added') counts.added++;
    else if (change.change === 'removed') counts.deleted++;
    else counts.updated++;
  }
  return counts;
}
