// A record restore of one object's snapshot selection: the chosen records with their hierarchy
// (restore-gather), planned against the target org (restore-plan), written through sObject
// Collections (restore-write), reported per record as a CSV attached to the job
// (restore-report). `planRecords` is the same gathering without writes, for the restore dialog.
import type { RestoreOutcome, RestorePlan, RestorePlanRun, RestoreRun } from '../../../core/plugins/service.ts';
import { withAutomationOff } from './automation.ts';
import { anonymizationKey, anonymizeRecords, checkReplicateTarget, replicaRecords } from './replicate.ts';
import { gatherRecords } from './restore-gather.ts';
import { automaticLinks, LINK, linksLast } from './restore-links.ts';
import { matchRecords } from './restore-match.ts';
import { type SalesforceRestoreOptions, salesforceRestoreOptions } from './restore-options.ts';
import {
  duplicateSuffix,
  insertOrder,
  type ObjectInfo,
  planCounts,
  type SourceRecord,
  writeCalls,
} from './restore-plan.ts';
import { reportCounts, reportCsv } from './restore-report.ts';
import { recordOf, snapshotSource } from './restore-source.ts';
import { SalesforceTarget } from './restore-target.ts';
import { type ReportRow, writeRecords } from './restore-write.ts';
import type { SalesforceApi } from './session.ts';
import { withOwnersActive } from './users.ts';

/** The default share of the org's daily API requests a restore may use, as for backups. */
const DEFAULT_LIMIT_PERCENT = 75;

interface Prepared {
  options: SalesforceRestoreOptions;
  records: SourceRecord[];
  /** Records whose object the target does not have. */
  unknown: SourceRecord[];
  /** Ids that live at the target, and ids of records matched there by a unique field. */
  live: Set<string>;
  /** Source id → the target record it matched by a unique field (restore-match). */
  matched: Map<string, string>;
  order: string[];
  info: Map<string, ObjectInfo>;
}

async function prepare(api: SalesforceApi, run: RestorePlanRun): Promise<Prepared> {
  const options = salesforceRestoreOptions.parse(run.options);
  const object = run.entity.externalId;
  if (run.destination.externalId !== object) {
    throw new Error(`Records of ${object} are restored to ${object}: choose it as the destination.`);
  }
  api.limitPercent = run.apiUsageLimitPercent ?? DEFAULT_LIMIT_PERCENT;
  const target = new SalesforceTarget(api, run.signal);
  if (options.replicate) checkReplicateTarget(api.settings);
  const chosen: SourceRecord[] = [];
  // A replicate reads the restored entity's records like any other object's (through the
  // source, streamed), so the selection is not read here.
  for await (const item of options.replicate ? [] : run.items) {
    // Blob fields (`<Id>/<Field>`) are restored with their records by the files restore.
    if (item.kind !== 'record') continue;
    run.signal.throwIfAborted();
    chosen.push({ object, id: item.key, values: await recordOf(item), depth: 0 });
    target.learn(object, item.key);
  }
  const source = snapshotSource(
    (name) => run.related(name),
    (name, id) => target.learn(name, id),
    run.signal,
  );
  if (options.replicate) {
    chosen.push(...(await replicaRecords(options.replicate, await target.objects(), source, run.signal)));
    run.log.info(
      { parents: chosen.length, anonymize: options.replicate.anonymize },
      'Salesforce replicate chose its records',
    );
  }
  // Every snapshot read teaches the target its object's key prefix (polymorphic lookups).
  const gathered = await gatherRecords(chosen, options.hierarchyDepth, source, target, run.signal);
  const info = new Map<string, ObjectInfo>();
  const unknown: SourceRecord[] = [];
  const records: SourceRecord[] = [];
  for (const r of gathered.records) {
    const objectInfo = info.get(r.object) ?? (await target.info(r.object));
    if (!objectInfo) {
      unknown.push(r);
      continue;
    }
    info.set(r.object, objectInfo);
    records.push(r);
  }
  const order = linksLast(insertOrder([...info.keys()], (name) => info.get(name)));
  const written = options.replicate?.anonymize
    ? anonymizeRecords(records, info, options.replicate, anonymizationKey(api.settings))
    : records;
  // Records not there by Id may be there by an External ID or unique field (another org).
  const matched = await matchRecords(records, info, gathered.live, target, run.signal);
  if (matched.size) run.log.info({ matched: matched.size }, 'Salesforce restore matched records by unique fields');
  const live = new Set([...gathered.live, ...matched.keys()]);
  return { options, records: written, unknown, live, matched, order, info };
}

export async function restoreRecords(
  api: SalesforceApi,
  run: RestoreRun,
  now: Date,
  pollMs?: number,
  bulkThreshold?: number,
): Promise<RestoreOutcome> {
  run.step('reading the backup and the target org');
  const prepared = await prepare(api, run);
  const { options, records, order, info, live, matched } = prepared;
  run.log.info(
    { objects: order, records: records.length, mode: options.recordMode, depth: options.hierarchyDepth },
    'Salesforce restore planned',
  );
  const write = (): Promise<ReportRow[]> =>
    writeRecords({
      api,
      records,
      order,
      info,
      live,
      matched,
      mode: options.recordMode,
      suffix: duplicateSuffix(now),
      signal: run.signal,
      step: run.step,
      blob: async (object, id, field) => (await run.related(object))?.get(`${id}/${field}`),
      ...(pollMs !== undefined ? { bulkPollMs: pollMs } : {}),
      ...(bulkThreshold !== undefined ? { bulkThreshold } : {}),
    });
  // The options' wrappers: owners active (and automation off) only while the records are written;
  // each registers its undo as a recovery step first, so a crash cannot leave the org changed.
  const ctx = { signal: run.signal, log: run.log, step: run.step, ...(pollMs !== undefined ? { pollMs } : {}) };
  const withOwners = (): Promise<ReportRow[]> =>
    options.activateInactiveUsers ? withOwnersActive(api, ownerIdsOf(records), run.recovery, ctx, write) : write();
  const automationObjects = options.automationObjects ?? order;
  const rows: ReportRow[] =
    options.disableAutomation && automationObjects.length > 0
      ? await withAutomationOff(api, automationObjects, run.recovery, ctx, withOwners)
      : await withOwners();
  for (const r of prepared.unknown) {
    rows.push({
      object: r.object,
      sourceId: r.id,
      targetId: null,
      action: 'create',
      result: 'failed',
      errorCode: 'INVALID_TYPE',
      message: `the target org has no object ${r.object}`,
      notes: [],
    });
  }
  const counts = reportCounts(rows);
  run.step(
    `${api.calls} API calls: ${counts.created} created, ${counts.updated} updated, ${counts.skipped} skipped, ${counts.failed} failed`,
  );
  for (const r of rows) {
    for (const note of r.notes)
      run.log.info({ object: r.object, id: r.sourceId }, `${r.object} ${r.sourceId}: ${note}`);
  }
  return {
    restored: counts.created + counts.updated,
    skipped: counts.skipped,
    failedItems: rows
      .filter((r) => r.result === 'failed')
      .map((r) => ({ key: `${r.object}/${r.sourceId}`, reason: `${r.errorCode}: ${r.message}` })),
    counts,
    attachment: {
      fileName: `restore-report-${now.toISOString().slice(0, 19).replace(/[-:]/g, '').replace('T', '-')}.csv`,
      contentType: 'text/csv',
      content: reportCsv(rows),
    },
  };
}

/** The users owning the records to write (OwnerId), each once. */
function ownerIdsOf(records: readonly SourceRecord[]): string[] {
  const ids = new Set<string>();
  for (const r of records) {
    const owner = r.values.OwnerId;
    if (typeof owner === 'string' && owner.startsWith('005')) ids.add(owner);
  }
  return [...ids];
}

/** What the restore would do: records per object and their actions, the API calls against the budget left. */
export async function planRecords(api: SalesforceApi, run: RestorePlanRun): Promise<RestorePlan> {
  const before = api.calls;
  const prepared = await prepare(api, run);
  const { options, records, order, live } = prepared;
  const counts = planCounts(
    records,
    order,
    live,
    options.recordMode,
    automaticLinks(records, live, options.recordMode),
  );
  const selfOrCyclic = order.filter((o) =>
    prepared.info.get(o)?.fields.some((f) => f.type === 'reference' && f.referenceTo.some((t) => order.includes(t))),
  ).length;
  const calls = writeCalls(counts, selfOrCyclic) + (api.calls - before);
  const usage = api.usage;
  const cap = api.allowed();
  const left = usage && cap !== undefined ? Math.max(0, cap - usage.used) : undefined;
  const modeLabel = { overwrite: 'Overwrite', bypass: 'Bypass', duplicate: 'Duplicate' }[options.recordMode];
  return {
    columns: ['Object', 'Records', 'Create', 'Update', 'Skip'],
    rows: counts.map((c) => [c.object, c.records, c.create, c.update, c.skip]),
    notes: [
      `Mode: ${modeLabel}; hierarchy depth ${options.hierarchyDepth}.`,
      `Target: ${run.destination.name} in the org ${api.conn.userInfo?.organizationId ?? ''}.`.replace(
        ' in the org .',
        '.',
      ),
      left === undefined
        ? `About ${calls} API calls.`
        : `About ${calls} API calls; the task may still use ${left} today (its limit is ${api.limitPercent} % of the org's ${usage?.max} daily requests).`,
      ...(left !== undefined && calls > left
        ? [
            'That is more than the task may still use today: the restore stops at the limit and reports the records it did not write.',
          ]
        : []),
      ...(prepared.unknown.length
        ? [`${prepared.unknown.length} records belong to objects the target org does not have; they will fail.`]
        : []),
      ...(order.includes(LINK)
        ? [
            'A restored file is linked by Salesforce to the record it was first published to: that link is counted as skipped. A link the org already has or whose record is neither there nor restored is skipped too.',
          ]
        : []),
    ],
  };
}
