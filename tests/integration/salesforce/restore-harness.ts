// What the Salesforce record-restore tests share: a discovered task to restore from, the live
// records at the stand-in, an in-place restore run to its end, and the job's per-record report.
import type { IOrganization } from '../../../core/identity/entities.ts';
import { type IJob, Job } from '../../../core/jobs/entities.ts';
import { ExportResult } from '../../../core/recovery/entities.ts';
import { startRestore } from '../../../core/recovery/start.ts';
import { BackupTask } from '../../../core/tasks/entities.ts';
import type { Org } from '../../fakes/salesforce/index.ts';
import { readZip, startContext } from '../../helpers/recovery.ts';
import { discover, entity, type SalesforceHarness, salesforceTask } from './harness.ts';

export interface RestoreSource {
  taskId: string;
  /** The task's organization: the restore starts in its name. */
  org: IOrganization;
}

/** A Salesforce task on the stand-in's org, its objects discovered. */
export async function discoveredTask(s: SalesforceHarness): Promise<RestoreSource> {
  const task = await salesforceTask(s);
  const org = (await s.h.em().findOneOrFail(BackupTask, { id: task.id }, { populate: ['organization'] }))
    .organization as IOrganization;
  await discover(s, task.id);
  return { taskId: task.id, org };
}

/** The values of an object's records at the stand-in that are not deleted and pass the filter. */
export function liveRecords(
  sf: Org,
  object: string,
  filter: (v: Record<string, unknown>) => boolean = () => true,
): Record<string, unknown>[] {
  return [...(sf.object(object)?.records.values() ?? [])]
    .filter((r) => !r.deletedAt && filter(r.values))
    .map((r) => r.values);
}

/** Restores these keys of an object's last snapshot in place and runs the job to its end. */
export async function restoreInPlace(
  s: SalesforceHarness,
  source: RestoreSource,
  keys: string[],
  options: Record<string, unknown>,
  object = 'Account',
): Promise<IJob> {
  const chosen = await entity(s, source.taskId, object);
  const started = await startRestore(startContext(s.h, source.org), {
    taskId: source.taskId,
    entityId: chosen.id,
    snapshotId: chosen.lastSnapshotId as string,
    keys,
    mode: 'in_place',
    options,
  });
  await s.h.runner.runUntilIdle();
  return s.h.em().findOneOrFail(Job, { id: started.id });
}

/** The job's attached report: its file name, and one row per record by source id. */
export async function restoreReport(
  s: SalesforceHarness,
  jobId: string,
): Promise<{ name: string; rows: Map<string, Record<string, string>> }> {
  const result = await s.h.em().findOneOrFail(ExportResult, { job: jobId });
  const [name, csv] = [...(await readZip(result.filePath))][0] as [string, Buffer];
  const [header, ...lines] = csv.toString().trim().split('\r\n') as [string, ...string[]];
  const columns = header.split(',');
  const rows = new Map<string, Record<string, string>>();
  for (const line of lines) {
    // The report's cells hold no commas except in the notes, which come last.
    const cells = line.split(',');
    const row = Object.fromEntries(columns.map((c, i) => [c, cells[i] ?? '']));
    rows.set(row['Source Id'] as string, row);
  }
  return { name, rows };
}
