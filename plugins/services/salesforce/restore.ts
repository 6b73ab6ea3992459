// A record restore of one object's snapshot selection: the chosen records with their hierarchy
// (restore-gather), planned against the target org (restore-plan), written through sObject
// Collections (restore-write), reported per record as a CSV attached to the job
// (restore-report). `planRecords` is the same gathering without writes, for the restore dialog.
// Everything per record — the records' fields, which ids live at the target, the source → new id
// map, the report rows — is kept in the restore's store on disk (restore-store) and read back a
// page at a time: memory does not grow with the records restored.
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { join } from 'node:path';
import type { RestoreOutcome, RestorePlan, RestorePlanRun, RestoreRun } from '../../../core/plugins/service.ts';
import { withAutomationOff } from './automation.ts';
import { anonymizationKey, anonymizeRecords, checkReplicateTarget, replicaRecords } from './replicate.ts';
import { gatherRecords, objectInfos } from './restore-gather.ts';
import { automaticLinks, LINK, linksLast } from './restore-links.ts';
import { matchFields, matchRecords } from './restore-match.ts';
import { type SalesforceRestoreOptions, salesforceRestoreOptions } from './restore-options.ts';
import {
  duplicateSuffix,
  insertOrder,
  type ObjectInfo,
  type PlanCounts,
  planCounts,
  writeCalls,
} from './restore-plan.ts';
import { REPORT_COLUMNS, reportLine } from './restore-report.ts';
import { recordOf, snapshotSource } from './restore-source.ts';
import { RestoreStore } from './restore-store.ts';
import { SalesforceTarget } from './restore-target.ts';
import { writeStored } from './restore-write.ts';
import type { SalesforceApi } from './session.ts';
import { withOwnersActive } from './users.ts';

/** The default share of the org's daily API requests a restore may use, as for backups. */
const DEFAULT_LIMIT_PERCENT = 75;

/** Failed records handed to the kernel by key (it lists 100 and logs 20); the report has them all. */
const FAILED_HANDED = 100;

interface Prepared {
  options: SalesforceRestoreOptions;
  /** Objects of gathered records the target does not have. */
  unknown: string[];
  order: string[];
  info: Map<string, ObjectInfo>;
}

async function prepare(api: SalesforceApi, run: RestorePlanRun, store: RestoreStore): Promise<Prepared> {
  const options = salesforceRestoreOptions.parse(run.options);
  const object = run.entity.externalId;
  if (run.destination.externalId !== object) {
    throw new Error(`Records of ${object} are restored to ${object}: choose it as the destination.`);
  }
  api.limitPercent = run.apiUsageLimitPercent ?? DEFAULT_LIMIT_PERCENT;
  const target = new SalesforceTarget(api, run.signal);
  if (options.replicate) checkReplicateTarget(api.settings);
  // A replicate reads the restored entity's records like any other object's (through the
  // source, streamed), so the selection is not read here.
  for await (const item of options.replicate ? [] : run.items) {
    // Blob fields (`<Id>/<Field>`) are restored with their records by the files restore.
    if (item.kind !== 'record') continue;
    run.signal.throwIfAborted();
    store.add({ object, id: item.key, values: await recordOf(item), depth: 0 });
    target.learn(object, item.key);
  }
  const source = snapshotSource(
    (name) => run.related(name),
    (name, id) => target.learn(name, id),
    run.signal,
  );
  if (options.replicate) {
    const parents = await replicaRecords(options.replicate, await target.objects(), source, run.signal, (r) =>
      store.add(r),
    );
    run.log.info({ parents, anonymize: options.replicate.anonymize }, 'Salesforce replicate chose its records');
  }
  // Every snapshot read teaches the target its object's key prefix (polymorphic lookups).
  await gatherRecords(store, options.hierarchyDepth, source, target, run.signal);
  const { info, unknown } = await objectInfos(store, target);
  const order = linksLast(insertOrder([...info.keys()], (name) => info.get(name)));
  // Records not there by Id may be there by an External ID or unique field (another org).
  for (const [name, objectInfo] of info) {
    if (!matchFields(objectInfo).length) continue;
    const local = new Set<string>();
    const taken = { has: (id: string) => local.has(id) || store.taken.has(id), add: (id: string) => local.add(id) };
    for (const page of store.pages('object = ? and id not in (select id from live)', name)) {
      const matched = await matchRecords(page, new Map([[name, objectInfo]]), store.live, target, run.signal, taken);
      for (const [id, to] of matched) {
        store.matched.set(id, to);
        store.live.add(id);
      }
      local.clear();
    }
  }
  const matched = store.matchedCount();
  if (matched) run.log.info({ matched }, 'Salesforce restore matched records by unique fields');
  return { options, unknown, order, info };
}

/** Where a restore keeps its store and its report: the job's work folder (under the data folder). */
function storeFor(run: RestorePlanRun, pageSize: number | undefined): RestoreStore {
  return new RestoreStore({ workDir: run.workDir, pageSize });
}

export async function restoreRecords(
  api: SalesforceApi,
  run: RestoreRun,
  now: Date,
  pollMs?: number,
  bulkThreshold?: number,
  pageSize?: number,
): Promise<RestoreOutcome> {
  run.step('reading the backup and the target org');
  const store = storeFor(run, pageSize);
  try {
    return await restoreStored(api, run, store, now, pollMs, bulkThreshold);
  } finally {
    store.close();
  }
}

async function restoreStored(
  api: SalesforceApi,
  run: RestoreRun,
  store: RestoreStore,
  now: Date,
  pollMs?: number,
  bulkThreshold?: number,
): Promise<RestoreOutcome> {
  const prepared = await prepare(api, run, store);
  const { options, order, info } = prepared;
  run.log.info(
    { objects: order, records: store.count(), mode: options.recordMode, depth: options.hierarchyDepth },
    'Salesforce restore planned',
  );
  const anonymize = options.replicate?.anonymize ? options.replicate : undefined;
  const key = anonymize ? anonymizationKey(api.settings) : undefined;
  const write = (): Promise<void> =>
    writeStored(store, {
      api,
      order,
      info,
      mode: options.recordMode,
      suffix: duplicateSuffix(now),
      signal: run.signal,
      step: run.step,
      blob: async (object, id, field) => (await run.related(object))?.get(`${id}/${field}`),
      ...(anonymize && key ? { transform: (page) => anonymizeRecords(page, info, anonymize, key) } : {}),
      ...(pollMs !== undefined ? { bulkPollMs: pollMs } : {}),
      ...(bulkThreshold !== undefined ? { bulkThreshold } : {}),
    });
  // The options' wrappers: owners active (and automation off) only while the records are written;
  // each registers its undo as a recovery step first, so a crash cannot leave the org changed.
  const ctx = { signal: run.signal, log: run.log, step: run.step, ...(pollMs !== undefined ? { pollMs } : {}) };
  const withOwners = (): Promise<void> =>
    options.activateInactiveUsers ? withOwnersActive(api, ownerIdsOf(store), run.recovery, ctx, write) : write();
  const automationObjects = options.automationObjects ?? order;
  if (options.disableAutomation && automationObjects.length > 0) {
    await withAutomationOff(api, automationObjects, run.recovery, ctx, withOwners);
  } else await withOwners();
  for (const object of prepared.unknown) {
    for (const page of store.pages('object = ?', object)) {
      store.db.transaction(() => {
        for (const r of page) {
          store.addRow(
            {
              object: r.object,
              sourceId: r.id,
              targetId: null,
              action: 'create',
              result: 'failed',
              errorCode: 'INVALID_TYPE',
              message: `the target org has no object ${r.object}`,
              notes: [],
            },
            false,
          );
        }
      })();
    }
  }
  const counts = store.counts();
  run.step(
    `${api.calls} API calls: ${counts.created} created, ${counts.updated} updated, ${counts.skipped} skipped, ${counts.failed} failed`,
  );
  // The report, its notes in the log and the failed keys: read from the store a page at a time.
  const fileName = `restore-report-${now.toISOString().slice(0, 19).replace(/[-:]/g, '').replace('T', '-')}.csv`;
  const failedItems: { key: string; reason: string }[] = [];
  const lines: string[] = [];
  const file = run.workDir ? join(run.workDir, fileName) : undefined;
  const out = file ? createWriteStream(file, { mode: 0o600 }) : undefined;
  const emit = async (text: string) => {
    if (!out) lines.push(text);
    else if (!out.write(text)) await once(out, 'drain');
  };
  try {
    await emit(`${REPORT_COLUMNS.join(',')}\r\n`);
    for (const page of store.rowPages('1')) {
      let chunk = '';
      for (const r of page) {
        chunk += reportLine(r);
        for (const note of r.notes) {
          run.log.info({ object: r.object, id: r.sourceId }, `${r.object} ${r.sourceId}: ${note}`);
        }
        if (r.result === 'failed' && failedItems.length < FAILED_HANDED) {
          failedItems.push({ key: `${r.object}/${r.sourceId}`, reason: `${r.errorCode}: ${r.message}` });
        }
      }
      await emit(chunk);
    }
  } finally {
    if (out) {
      out.end();
      await once(out, 'close');
    }
  }
  return {
    restored: counts.created + counts.updated,
    skipped: counts.skipped,
    failedItems,
    failedCount: counts.failed,
    counts,
    attachment: {
      fileName,
      contentType: 'text/csv',
      content: file ? { path: file } : lines.join(''),
    },
  };
}

/** The users owning the records to write (OwnerId), each once. */
function ownerIdsOf(store: RestoreStore): string[] {
  const rows = store.db
    .prepare(
      `select distinct json_extract(vals, '$.OwnerId') as owner from rec where json_extract(vals, '$.OwnerId') like '005%'`,
    )
    .all() as { owner: string }[];
  return rows.map((r) => r.owner);
}

/** What the restore would do: records per object and their actions, the API calls against the budget left. */
export async function planRecords(api: SalesforceApi, run: RestorePlanRun, pageSize?: number): Promise<RestorePlan> {
  const store = storeFor(run, pageSize);
  try {
    return await planStored(api, run, store);
  } finally {
    store.close();
  }
}

async function planStored(api: SalesforceApi, run: RestorePlanRun, store: RestoreStore): Promise<RestorePlan> {
  const before = api.calls;
  const prepared = await prepare(api, run, store);
  const { options, order } = prepared;
  const skipped = automaticLinks(store, options.recordMode);
  let counts: PlanCounts[] = planCounts([], order, store.live, options.recordMode);
  if (order.length) {
    for (const page of store.pages(`object in (${order.map(() => '?').join(',')})`, ...order)) {
      counts = planCounts(page, order, store.live, options.recordMode, skipped, counts);
    }
  }
  const unknownRecords = prepared.unknown.length
    ? store.count(`object in (${prepared.unknown.map(() => '?').join(',')})`, ...prepared.unknown)
    : 0;
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
      ...(unknownRecords
        ? [`${unknownRecords} records belong to objects the target org does not have; they will fail.`]
        : []),
      ...(order.includes(LINK)
        ? [
            'A restored file is linked by Salesforce to the record it was first published to: that link is counted as skipped. A link the org already has or whose record is neither there nor restored is skipped too.',
          ]
        : []),
    ],
  };
}
