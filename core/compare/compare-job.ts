// One compare run (seed 6.1/6.2): the chosen objects (or metadata types) of a task at one point in
// time against the same objects at another point in time of this or another task. Per object the
// newest snapshot at or before each time is opened and the two item lists walked together
// (item-diff.ts): unchanged items are told from their entries and never read. Only the items
// whose entries differ are read, both versions, to show which fields changed (the service's
// `presentation.fields`, less its `compareIgnoredFields`) or, for other content, a unified diff.
// The result is written to the data folder (result-store.ts) under a temporary name and renamed
// when complete; the pages read it from there.
import { createWriteStream } from 'node:fs';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { buffer } from 'node:stream/consumers';
import { z } from 'zod';
import { withLock } from '../../storage/locks.ts';
import { SnapshotReader } from '../../storage/snapshot-reader.ts';
import type { ItemEntry } from '../../storage/tree.ts';
import { JobNotApplicableError, type JobOutcome, type JobRun } from '../jobs/handler.ts';
import { ITEM_FIELDS_MAX_BYTES, type ServicePlugin } from '../plugins/service.ts';
import { parseParams } from '../recovery/params.ts';
import { BackupTask, type IBackupTask, TaskEntity } from '../tasks/entities.ts';
import type { OpenedRepository } from '../tasks/storage.ts';
import { type FieldChange, fieldChanges } from './field-diff.ts';
import { type DiffCounts, diffItems } from './item-diff.ts';
import { unifiedDiff } from './line-diff.ts';
import {
  type CompareSummary,
  comparesFolder,
  type DifferenceLine,
  differencesPath,
  type ObjectSummary,
  summaryPath,
} from './result-store.ts';

export const compareParamsSchema = z.object({
  /** The left task's entities compared (their ids); empty: all of them. */
  entityIds: z.array(z.string()).max(5000),
  leftTime: z.string(),
  rightTaskId: z.string(),
  rightTime: z.string(),
});
export type CompareParams = z.infer<typeof compareParamsSchema>;

/** A unified diff longer than this is cut (the note says so). */
const MAX_DIFF_CHARS = 512 * 1024;

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

function isText(bytes: Buffer): boolean {
  return !bytes.includes(0);
}

/** What differs between two versions of an item, or undefined when nothing compared does. */
function describeChange(
  plugin: ServicePlugin | undefined,
  item: ItemEntry,
  left: Buffer,
  right: Buffer,
  ignored: ReadonlySet<string>,
): { fields: FieldChange[] } | { diff: string } | undefined {
  const fieldsOf = plugin?.presentation?.fields;
  if (fieldsOf && left.length <= ITEM_FIELDS_MAX_BYTES && right.length <= ITEM_FIELDS_MAX_BYTES) {
    const a = fieldsOf(item, left);
    const b = fieldsOf(item, right);
    if (a && b) {
      const changes = fieldChanges(a, b, ignored);
      return changes.length ? { fields: changes } : undefined;
    }
  }
  if (left.equals(right)) return undefined;
  if (!isText(left) || !isText(right)) return { diff: 'Binary content differs.' };
  const diff = unifiedDiff(item.key, left.toString('utf8'), right.toString('utf8'));
  return { diff: diff.length > MAX_DIFF_CHARS ? `${diff.slice(0, MAX_DIFF_CHARS)}\n… (cut)\n` : diff };
}

function nameOf(item: ItemEntry): string {
  const name = item.meta?.name;
  return typeof name === 'string' ? name : '';
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
  const objects = [...targets.values()].sort((a, b) => a.name.localeCompare(b.name));

  const folder = comparesFolder(ctx.settings.dataDir, organizationId);
  const finalLines = differencesPath(ctx.settings.dataDir, organizationId, job.id);
  const finalSummary = summaryPath(ctx.settings.dataDir, organizationId, job.id);
  const partialLines = `${finalLines}.partial`;
  await mkdir(folder, { recursive: true });
  progress.step = 'opening the backups';
  const left = await openSide(run, leftTask, params.leftTime);
  let right: Side | undefined;
  const out = createWriteStream(partialLines, { mode: 0o600 });
  try {
    right = await openSide(run, rightTask, params.rightTime, rightTask === leftTask ? left.opened : undefined);
    const sides = { left, right };
    const oneRepository = left.opened.repo.id === right.opened.repo.id;
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
        const rightId = sides.right.latest.get(object.externalId);
        const summary: ObjectSummary = {
          ...object,
          inLeft: leftId !== undefined,
          inRight: rightId !== undefined,
          leftTotal: 0,
          leftUnique: 0,
          changed: 0,
          rightUnique: 0,
          rightTotal: 0,
        };
        summaries.push(summary);
        if (!leftId && !rightId) continue;
        const leftReader = leftId ? await SnapshotReader.open(sides.left.opened.repo, leftId) : undefined;
        const rightReader = rightId ? await SnapshotReader.open(sides.right.opened.repo, rightId) : undefined;
        const counts: DiffCounts = { left: 0, right: 0 };
        const none = (async function* () {})();
        for await (const d of diffItems(leftReader?.items() ?? none, rightReader?.items() ?? none, {
          oneRepository,
          counts,
          signal,
        })) {
          if (d.side === 'left') {
            summary.leftUnique++;
            await write({ o: index, key: d.key, name: nameOf(d.left), side: 'left' });
          } else if (d.side === 'right') {
            summary.rightUnique++;
            await write({ o: index, key: d.key, name: nameOf(d.right), side: 'right' });
          } else {
            const [a, b] = await Promise.all([
              buffer((leftReader as SnapshotReader).content(d.left)),
              buffer((rightReader as SnapshotReader).content(d.right)),
            ]);
            contentReads += 2;
            const change = describeChange(plugin, d.right, a, b, ignored);
            if (!change) continue;
            summary.changed++;
            await write({ o: index, key: d.key, name: nameOf(d.right) || nameOf(d.left), side: 'both', ...change });
          }
        }
        summary.leftTotal = counts.left;
        summary.rightTotal = counts.right;
        progress.items = index + 1;
      }
    };
    await withLock(
      left.opened.repo.sink,
      'shared',
      { purpose: 'compare of snapshots' },
      async () => {
        if (oneRepository) return compareAll();
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
      right: { taskId: rightTask.id, taskName: rightTask.name, time: params.rightTime },
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
  }
}
