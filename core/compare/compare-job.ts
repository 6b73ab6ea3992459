// One compare run (seed 6.1/6.2): the chosen objects (or metadata types) of a task at one point in
// time against the same objects at another point in time of this or another task, or against
// what this or another task's account holds now (the live side, live-side.ts). Per object the
// newest snapshot at or before each time is opened and the two item lists walked together
// (item-diff.ts): unchanged items are told from their entries and never read. Only the items
// whose entries differ are read, both versions, to show which fields changed (the service's
// `presentation.fields`, less its `compareIgnoredFields`) or, for other content, a unified diff.
// The result is written to the data folder (result-store.ts) under a temporary name and renamed
// when complete; the pages read it from there.
import { createWriteStream } from 'node:fs';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { z } from 'zod';
import { withLock } from '../../storage/locks.ts';
import { SnapshotReader } from '../../storage/snapshot-reader.ts';
import { JobNotApplicableError, type JobOutcome, type JobRun } from '../jobs/handler.ts';
import { parseParams } from '../recovery/params.ts';
import { BackupTask, type IBackupTask, TaskEntity } from '../tasks/entities.ts';
import type { OpenedRepository } from '../tasks/storage.ts';
import { compareEntity } from './compare-entity.ts';
import { type LiveSide, openLiveSide } from './live-side.ts';
import {
  type CompareSummary,
  comparesFolder,
  type DifferenceLine,
  differencesPath,
  liveFolder,
  type ObjectSummary,
  summaryPath,
} from './result-store.ts';

export const compareParamsSchema = z.object({
  /** The left task's entities compared (their ids); empty: all of them. */
  entityIds: z.array(z.string()).max(5000),
  leftTime: z.string(),
  rightTaskId: z.string(),
  /** Ignored for a live right side. */
  rightTime: z.string(),
  /** The right side is the right task's account as it is now, read by the job. */
  rightLive: z.boolean().default(false),
});
export type CompareParams = z.infer<typeof compareParamsSchema>;

interface Side {
  task: IBackupTask;
  opened: OpenedRepository;
  time: string;
  /** The newest snapshot of each entity (external id) at or before `time`. */
  latest: Map<string, string>;
}

/** The newest snapshot of each of the task's entities at or before `time`. */
async function latestSnapshots(opened: OpenedRepository, taskId: string, time: string): Promise<Map<string, string>> {
  const latest = new Map<string, string>();
  // listSnapshots sorts by time: the last one at or before `time` wins.
  for (const s of await opened.repo.listSnapshots()) {
    if (s.manifest.task === taskId && s.manifest.time <= time) latest.set(s.manifest.entity, s.id);
  }
  return latest;
}

async function openSide(run: JobRun, task: IBackupTask, time: string, opened?: OpenedRepository): Promise<Side> {
  const repo =
    opened ??
    (await run.ctx.storage.open({
      id: task.id,
      organizationId: task.organization.id,
      storageLocation: task.storageLocation ?? null,
    }));
  return { task, opened: repo, time, latest: await latestSnapshots(repo, task.id, time) };
}

async function loadTask(run: JobRun, id: string): Promise<IBackupTask> {
  const task = await run.em.findOne(BackupTask, { id, organization: run.job.organization, deletedAt: null });
  if (!task) throw new JobNotApplicableError('A backup task of the compare was deleted.');
  return task;
}

export async function runCompareJob(run: JobRun): Promise<JobOutcome> {
  const { ctx, em, job, signal, progress } = run;
  const params = parseParams(compareParamsSchema, job.params);
  if (!job.task) throw new JobNotApplicableError('The backup task of the compare was deleted.');
  const leftTask = await loadTask(run, job.task.id);
  const rightTask = params.rightTaskId === leftTask.id ? leftTask : await loadTask(run, params.rightTaskId);
  const plugin = ctx.services(leftTask.service);
  const ignored = new Set(plugin?.presentation?.compareIgnoredFields ?? []);
  const organizationId = leftTask.organization.id;

  // The objects: the chosen ones of the left task, matched on the right by external id (API name).
  const leftEntities = await em.find(TaskEntity, { task: leftTask, deletedAt: null }, { orderBy: { name: 'asc' } });
  const chosen = params.entityIds.length ? leftEntities.filter((e) => params.entityIds.includes(e.id)) : leftEntities;
  const targets = new Map(chosen.map((e) => [e.externalId, { externalId: e.externalId, name: e.name, kind: e.kind }]));
  if (rightTask !== leftTask && params.entityIds.length === 0) {
    for (const e of await em.find(TaskEntity, { task: rightTask, deletedAt: null })) {
      if (!targets.has(e.externalId))
        targets.set(e.externalId, { externalId: e.externalId, name: e.name, kind: e.kind });
    }
  }

  const folder = comparesFolder(ctx.settings.dataDir, organizationId);
  const finalLines = differencesPath(ctx.settings.dataDir, organizationId, job.id);
  const finalSummary = summaryPath(ctx.settings.dataDir, organizationId, job.id);
  const partialLines = `${finalLines}.partial`;
  await mkdir(folder, { recursive: true });
  progress.step = 'opening the backups';
  const left = await openSide(run, leftTask, params.leftTime);
  let right: Side | undefined;
  let live: LiveSide | undefined;
  const out = createWriteStream(partialLines, { mode: 0o600 });
  try {
    if (params.rightLive) {
      if (!plugin) throw new Error(`the service plugin "${leftTask.service}" is not installed on this appliance`);
      const chosenIds = params.entityIds.length ? new Set(targets.keys()) : undefined;
      live = await openLiveSide(
        run,
        rightTask,
        plugin,
        liveFolder(ctx.settings.dataDir, organizationId, job.id),
        chosenIds,
      );
      // Objects the account lists now and the task has not discovered yet are compared too.
      if (!chosenIds) for (const [id, e] of live.listed) if (!targets.has(id)) targets.set(id, e);
    } else {
      right = await openSide(run, rightTask, params.rightTime, rightTask === leftTask ? left.opened : undefined);
    }
    const objects = [...targets.values()].sort((a, b) => a.name.localeCompare(b.name));
    const sides = { left, right };
    // A live side is a scratch repository of its own: blob ids cannot be compared across.
    const oneRepository = !live && left.opened.repo.id === (right as Side).opened.repo.id;
    let contentReads = 0;
    const write = (line: DifferenceLine) =>
      new Promise<void>((resolve, reject) => {
        if (out.write(`${JSON.stringify(line)}\n`)) resolve();
        else out.once('drain', resolve).once('error', reject);
      });
    const summaries: ObjectSummary[] = [];
    const compareAll = async () => {
      for (const [index, object] of objects.entries()) {
        signal.throwIfAborted();
        progress.step = `comparing ${object.name}`.slice(0, 200);
        const leftId = sides.left.latest.get(object.externalId);
        const rightId = live ? undefined : sides.right?.latest.get(object.externalId);
        const liveEntity = live?.listed.get(object.externalId);
        const summary: ObjectSummary = {
          ...object,
          inLeft: leftId !== undefined,
          inRight: rightId !== undefined || liveEntity !== undefined,
          leftTotal: 0,
          leftUnique: 0,
          changed: 0,
          rightUnique: 0,
          rightTotal: 0,
        };
        summaries.push(summary);
        if (!summary.inLeft && !summary.inRight) continue;
        const leftReader = leftId ? await SnapshotReader.open(sides.left.opened.repo, leftId) : undefined;
        let rightReader: SnapshotReader | undefined;
        if (liveEntity && live) {
          progress.step = `reading ${object.name} from ${rightTask.name} (live)`.slice(0, 200);
          rightReader = await live.read(liveEntity);
          progress.step = `comparing ${object.name}`.slice(0, 200);
        } else if (rightId && sides.right) {
          rightReader = await SnapshotReader.open(sides.right.opened.repo, rightId);
        }
        const counts = await compareEntity(leftReader, rightReader, {
          oneRepository,
          plugin,
          ignored,
          signal,
          onDifference: (d) => write({ o: index, ...d }),
        });
        Object.assign(summary, {
          leftTotal: counts.leftTotal,
          leftUnique: counts.leftUnique,
          changed: counts.changed,
          rightUnique: counts.rightUnique,
          rightTotal: counts.rightTotal,
        });
        contentReads += counts.contentReads;
        progress.items = index + 1;
      }
    };
    await withLock(
      left.opened.repo.sink,
      'shared',
      { purpose: 'compare of snapshots' },
      async () => {
        if (oneRepository || live) return compareAll();
        return withLock(
          (right as Side).opened.repo.sink,
          'shared',
          { purpose: 'compare of snapshots' },
          compareAll,
          (right as Side).opened.repo,
        );
      },
      left.opened.repo,
    );
    await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
    const result: CompareSummary = {
      left: { taskId: leftTask.id, taskName: leftTask.name, time: params.leftTime },
      right: live
        ? { taskId: rightTask.id, taskName: rightTask.name, time: live.readAt, live: true }
        : { taskId: rightTask.id, taskName: rightTask.name, time: params.rightTime },
      objects: summaries,
      ignoredFields: [...ignored],
      contentReads,
    };
    await writeFile(`${finalSummary}.partial`, JSON.stringify(result), { mode: 0o600 });
    await rename(partialLines, finalLines);
    await rename(`${finalSummary}.partial`, finalSummary);
    const differing = summaries.filter((s) => s.leftUnique + s.changed + s.rightUnique > 0 || s.inLeft !== s.inRight);
    return {
      state: 'succeeded',
      result: {
        destination: 'Result page',
        items: summaries.length,
        compared: summaries.length,
        differing: differing.length,
        contentReads,
      },
      message: `${summaries.length} object${summaries.length === 1 ? '' : 's'} compared; ${differing.length} differ${differing.length === 1 ? 's' : ''}`,
    };
  } catch (err) {
    out.destroy();
    await rm(partialLines, { force: true });
    await rm(`${finalSummary}.partial`, { force: true });
    throw err;
  } finally {
    await left.opened.close();
    if (right && right.opened !== left.opened) await right.opened.close();
    await live?.close();
  }
}
