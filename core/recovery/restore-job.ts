// One restore run: open the task's repository under a shared lock, check that the snapshot is the
// entity's, and hand the selected items — streamed in pack order — to the service plugin's
// `restore()`, which writes them to the destination entity (the same one, or another of the same
// task) into a new "Restored <date>" folder or in place. Items the plugin could not write are
// listed in the job's result and log, and so are items the repository holds damaged (never handed
// to the plugin); some failing makes the job Partially succeeded, all failing makes it Failed.
import { mkdir, rm } from 'node:fs/promises';
import { withLock } from '../../storage/locks.ts';
import { SnapshotReader } from '../../storage/snapshot-reader.ts';
import { itemFieldMap } from '../catalog/item-fields.ts';
import { JobNotApplicableError, type JobOutcome, type JobRun } from '../jobs/handler.ts';
import { logEntry } from '../jobs/queue.ts';
import type { RestoreItem, ServicePlugin } from '../plugins/service.ts';
import { connectTask } from '../tasks/connection.ts';
import { BackupTask, type IBackupTask, type ITaskEntity, TaskEntity } from '../tasks/entities.ts';
import { recoverJobSteps, recoverySteps } from '../tasks/recovery-steps.ts';
import { keepAttachment } from './attachment.ts';
import { checkedContent } from './checked-content.ts';
import { describeSelection, isEverything, selectedItems } from './items.ts';
import { parseParams, type RestoreParams, restoreParamsSchema } from './params.ts';
import { relatedSnapshots, sameRoundSnapshots } from './related.ts';
import { restoredFolderName } from './start.ts';
import { restoreWorkDir } from './work-dirs.ts';

/** Failed items named in the job's result and log (the count is always complete). */
export const FAILED_LISTED = 100;
export const FAILED_LOGGED = 20;

export interface RecoverySource {
  task: IBackupTask;
  entity: ITaskEntity;
}

/** The task and entity a restore or export job reads; gone or deleted ones end the job as canceled. */
export async function recoverySource(run: JobRun, entityId: string): Promise<RecoverySource> {
  const task = run.job.task ? await run.em.findOne(BackupTask, { id: run.job.task.id }) : null;
  if (!task || task.deletedAt) throw new JobNotApplicableError('The backup task was deleted.');
  const entity = await run.em.findOne(TaskEntity, { id: entityId, task });
  if (!entity || entity.deletedAt) throw new JobNotApplicableError('The backed-up user, folder or object was deleted.');
  return { task, entity };
}

/** Opens the snapshot and checks that it belongs to the task and entity the job names. */
export async function openSnapshot(
  reader: Promise<SnapshotReader>,
  source: RecoverySource,
  snapshotId: string,
): Promise<SnapshotReader> {
  const opened = await reader;
  if (opened.manifest.task !== source.task.id || opened.manifest.entity !== source.entity.externalId) {
    throw new Error(`snapshot ${snapshotId.slice(0, 12)} is not a snapshot of ${source.entity.name}`);
  }
  return opened;
}

/**
 * The destination entity and the task whose connection writes to it: the source task, or (plugins
 * with `restoreToOtherTasks`) another task of the same service in the same organization.
 */
export async function restoreDestination(
  em: JobRun['em'],
  source: RecoverySource,
  entityId: string,
  plugin: ServicePlugin,
): Promise<{ destination: ITaskEntity; destinationTask: IBackupTask }> {
  const destination = await em.findOne(TaskEntity, { id: entityId }, { populate: ['task'] });
  const task = destination?.task as IBackupTask | undefined;
  const same = task?.id === source.task.id;
  const allowed =
    same ||
    (plugin.restoreToOtherTasks &&
      task?.organization.id === source.task.organization.id &&
      task?.service === source.task.service &&
      destination?.externalId === source.entity.externalId);
  if (!destination || !task || destination.deletedAt || task.deletedAt || !allowed) {
    throw new JobNotApplicableError('The destination of the restore was deleted.');
  }
  return { destination, destinationTask: same ? source.task : task };
}

export async function runRestoreJob(run: JobRun): Promise<JobOutcome> {
  const { ctx, em, job, signal, progress, log } = run;
  const params: RestoreParams = parseParams(restoreParamsSchema, job.params);
  const source = await recoverySource(run, params.entityId);
  const plugin = ctx.services(source.task.service);
  if (!plugin) throw new Error(`the service plugin "${source.task.service}" is not installed on this appliance`);
  const { destination, destinationTask } = await restoreDestination(em, source, params.destinationEntityId, plugin);
  const fields = itemFieldMap(plugin.searchFields);
  const rules = { caseInsensitive: plugin.pathsCaseInsensitive };

  // The plugin's scratch folder (spools, a report written as it grows); what a stopped appliance
  // left of an earlier attempt of this job is cleared first.
  const workDir = restoreWorkDir(ctx.settings.dataDir, job.id);
  progress.step = 'opening the backup';
  const opened = await ctx.storage.open({
    id: source.task.id,
    organizationId: source.task.organization.id,
    storageLocation: source.task.storageLocation ?? null,
  });
  try {
    await rm(workDir, { recursive: true, force: true });
    await mkdir(workDir, { recursive: true, mode: 0o700 });
    const outcome = await withLock(
      opened.repo.sink,
      'shared',
      { purpose: `restore of ${source.entity.name}`.slice(0, 200) },
      async () => {
        const reader = await openSnapshot(
          SnapshotReader.open(opened.repo, params.snapshotId),
          source,
          params.snapshotId,
        );
        const connection = await connectTask(em, destinationTask, plugin, ctx.credentials, signal, log);
        try {
          if (!connection.restore) {
            throw new Error(`${plugin.label} cannot restore items on this appliance; export them instead`);
          }
          let handed = 0;
          const damaged: { key: string; reason: string }[] = [];
          async function* items(): AsyncGenerator<RestoreItem> {
            for await (const item of selectedItems(reader, params.selection, signal, fields, rules)) {
              const checked = await checkedContent(reader, item);
              if ('damaged' in checked) {
                damaged.push({ key: item.key, reason: checked.damaged });
                continue;
              }
              handed++;
              progress.items = handed;
              progress.bytes += item.size;
              yield {
                key: item.key,
                kind: item.kind,
                size: item.size,
                ...(item.meta ? { meta: item.meta } : {}),
                content: checked.content,
              };
            }
          }
          progress.step = 'restoring items';
          const result = await connection.restore({
            entity: { externalId: source.entity.externalId, name: source.entity.name, kind: source.entity.kind },
            destination: { externalId: destination.externalId, name: destination.name, kind: destination.kind },
            mode: params.mode,
            folderName: restoredFolderName(job.createdAt),
            items: items(),
            options: plugin.restoreOptions ? plugin.restoreOptions.parse(params.options) : {},
            related: relatedSnapshots({
              repo: opened.repo,
              taskId: source.task.id,
              snapshotId: params.snapshotId,
              sameRound: () => sameRoundSnapshots(em, source.task.id, params.snapshotId),
              entity: async (externalId) => {
                const found = await em.findOne(TaskEntity, { task: source.task, externalId });
                return found ? { externalId, name: found.name, kind: found.kind } : undefined;
              },
            }),
            workDir,
            // The writes spend the destination's API budget (another org's, for another task).
            apiUsageLimitPercent: destinationTask.apiUsageLimitPercent ?? null,
            signal,
            step: (text) => {
              progress.step = text;
            },
            log,
            recovery: recoverySteps(
              em,
              { taskId: destinationTask.id, jobId: job.id, pluginKind: plugin.kind },
              ctx.now,
            ),
          });
          signal.throwIfAborted();
          if (handed === 0 && damaged.length === 0 && !isEverything(params.selection)) {
            throw new Error(`nothing in the snapshot matches ${describeSelection(params.selection)}`);
          }
          return { result, handed: handed + damaged.length, damaged, snapshotTime: reader.manifest.time };
        } finally {
          // Whatever the outcome (a failure, a cancel): undo what the plugin left registered.
          const cleanUp = await recoverJobSteps({
            em,
            plugin,
            connection,
            task: destinationTask,
            jobId: job.id,
            log,
            now: ctx.now,
          }).catch((err: unknown) => {
            log.warn({ err }, 'restore clean-up could not run; it runs when the appliance starts');
            return { pending: 1, done: 0 };
          });
          if (cleanUp.pending > 0) {
            await run
              .appendLog([
                logEntry(
                  cleanUp.done === cleanUp.pending ? 'info' : 'warn',
                  cleanUp.done === cleanUp.pending
                    ? `${cleanUp.done} change(s) the restore had made at ${plugin.label} undone after it stopped`
                    : `${cleanUp.pending - cleanUp.done} change(s) the restore made at ${plugin.label} could not be undone yet: tried again when the appliance starts (System Activity)`,
                  ctx.now(),
                ),
              ])
              .catch(() => {});
          }
          await connection.close?.();
        }
      },
      opened.repo,
    );

    const failed = [...outcome.damaged, ...(outcome.result.failedItems ?? [])];
    // The plugin may name only the first failed items and count the rest (its report lists all).
    const failedCount =
      outcome.damaged.length + (outcome.result.failedCount ?? outcome.result.failedItems?.length ?? 0);
    // The plugin's report is kept even when the job then fails: it says why each item failed.
    const attachment = outcome.result.attachment
      ? await keepAttachment(
          em,
          {
            dataDir: ctx.settings.dataDir,
            organizationId: source.task.organization.id,
            jobId: job.id,
            now: ctx.now(),
          },
          outcome.result.attachment,
        )
      : undefined;
    const restored = outcome.result.restored;
    const skipped = outcome.result.skipped ?? 0;
    const now = ctx.now();
    await run.appendLog(
      failed.slice(0, FAILED_LOGGED).map((f) => logEntry('warn', `${f.key} was not restored: ${f.reason}`, now)),
    );
    const summary = `${restored} restored, ${skipped} skipped, ${failedCount} failed of ${outcome.handed} item${outcome.handed === 1 ? '' : 's'} to ${destination.name}`;
    if (failedCount > 0 && restored === 0 && outcome.handed > 0) {
      throw new Error(`no item could be restored (${failedCount} failed; the first: ${failed[0]?.reason})`);
    }
    return {
      state: failedCount ? 'partially_succeeded' : 'succeeded',
      result: {
        items: outcome.handed,
        bytes: progress.bytes,
        restored,
        skipped,
        failedItems: failedCount,
        failed: failed.slice(0, FAILED_LISTED),
        snapshotTime: outcome.snapshotTime,
        destination:
          destinationTask.id === source.task.id ? destination.name : `${destination.name} in ${destinationTask.name}`,
        ...(outcome.result.counts ? { counts: outcome.result.counts } : {}),
        ...(attachment ? { fileName: attachment.fileName, fileSize: attachment.size } : {}),
      },
      message: summary,
    };
  } finally {
    await opened.close();
    await rm(workDir, { recursive: true, force: true });
  }
}
