// One backup run of one metadata type (Apex classes, flows, profiles, …) through the Metadata API.
// Each component is its own item (key = its file name in the retrieve zip, e.g.
// classes/AccountService.cls, and its -meta.xml beside it), so unchanged ones dedupe and stay in
// the (incremental) snapshot unread. A run lists the type's components (one call), retrieves only
// those whose lastModifiedDate differs from what the snapshot holds (retrieve + status checks,
// in batches), and deletes the ones no longer listed. SOAP answers say nothing of the org's API
// usage, so a run reads /limits first and counts its own calls from there. A run stopped by the API budget needs no
// state: what it did not retrieve still differs next time.
import { setTimeout as sleep } from 'node:timers/promises';
import type { BackupOutcome, BackupRun, PreviousItem } from '../../../core/plugins/service.ts';
import { API_VERSION, BudgetExhausted, type SalesforceApi } from './session.ts';
import { unzip } from './zip.ts';

export interface MetadataState {
  v: 1;
}

/** Components per retrieve (Salesforce allows 10 000 files a retrieve). */
export const RETRIEVE_BATCH = 500;

/** The entity id of a metadata type: objects' ids are their API names, so metadata types are prefixed. */
export const METADATA_PREFIX = 'metadata:';

interface FileProperties {
  fullName: string;
  fileName: string;
  type: string;
  id?: string;
  lastModifiedDate: string;
  lastModifiedById?: string;
  createdById?: string;
}

interface RetrieveResult {
  id: string;
  done: boolean | string;
  zipFile?: string;
  status?: string;
  errorMessage?: string;
}

const META_SUFFIX = '-meta.xml';

export async function backupMetadataType({
  api,
  run,
  defaultLimitPercent = 75,
  pollMs = 2000,
}: {
  api: SalesforceApi;
  run: BackupRun<MetadataState>;
  defaultLimitPercent?: number;
  pollMs?: number;
}): Promise<BackupOutcome<MetadataState>> {
  const type = run.entity.externalId.slice(METADATA_PREFIX.length);
  const { conn } = api;
  api.limitPercent = run.apiUsageLimitPercent ?? defaultLimitPercent;
  const writer = run.writer;
  const state: MetadataState = { v: 1 };
  let stored = 0;
  let deleted = 0;
  const finish = (stopped?: string): BackupOutcome<MetadataState> => {
    run.log.info({ type, calls: api.calls, stored, deleted, stopped: !!stopped }, 'Salesforce metadata type backed up');
    run.step(`${api.calls} API calls, ${stored} components stored, ${deleted} deleted`);
    return stopped ? { state, partialReason: stopped } : { state };
  };

  try {
    // Metadata API answers carry no Sforce-Limit-Info: learn the org's usage from a REST call first.
    await api.call('reading the API usage', () => conn.limits(), run.signal);
    run.step(`listing ${type}`);
    const listed = await api.call(`listing ${type}`, () => conn.metadata.list([{ type }]), run.signal);
    const components = (Array.isArray(listed) ? listed : listed ? [listed] : []) as unknown as FileProperties[];
    // Components can share a file (an object's validation rules are all in objects/<Object>.object):
    // a file is retrieved with all its components, and its stored `modified` is the newest of theirs.
    const byFile = new Map<string, FileProperties>();
    for (const c of components) {
      const known = byFile.get(c.fileName);
      if (!known || c.lastModifiedDate > known.lastModifiedDate) byFile.set(c.fileName, c);
    }

    const previous = new Map<string, PreviousItem>();
    for await (const item of writer.previousItems?.() ?? []) previous.set(item.key, item);
    for (const key of previous.keys()) {
      const file = key.endsWith(META_SUFFIX) ? key.slice(0, -META_SUFFIX.length) : key;
      if (!byFile.has(file)) {
        await writer.delete(key);
        deleted++;
      }
    }
    const changedFiles = new Set(
      [...byFile].filter(([file, c]) => previous.get(file)?.meta?.modified !== c.lastModifiedDate).map(([f]) => f),
    );
    const changed = components
      .filter((c) => changedFiles.has(c.fileName))
      .sort((a, b) => a.fileName.localeCompare(b.fileName));
    // Batches of whole files: a file retrieved with part of its components would lose the others.
    const batches: FileProperties[][] = [];
    for (let i = 0; i < changed.length; ) {
      let end = i;
      while (end < changed.length && changed[end]?.fileName === changed[i]?.fileName) end++;
      const last = batches.at(-1);
      const group = changed.slice(i, end);
      if (last && last.length + group.length <= RETRIEVE_BATCH) last.push(...group);
      else batches.push(group);
      i = end;
    }

    let done = 0;
    for (const batch of batches) {
      done += batch.length;
      run.step(`retrieving ${type} (${done} of ${changed.length} changed)`);
      const started = (await api.call(
        `retrieving ${type}`,
        async () =>
          (await conn.metadata.retrieve({
            apiVersion: Number(API_VERSION),
            singlePackage: true,
            unpackaged: {
              types: [{ name: type, members: batch.map((c) => c.fullName) }],
              version: API_VERSION,
            } as never,
          })) as unknown as RetrieveResult,
        run.signal,
      )) as RetrieveResult;
      let result: RetrieveResult;
      for (;;) {
        result = (await api.call(
          `retrieve status of ${type}`,
          () => conn.metadata.checkRetrieveStatus(started.id),
          run.signal,
        )) as unknown as RetrieveResult;
        if (result.done === true || result.done === 'true') break;
        await sleep(pollMs, undefined, { signal: run.signal });
      }
      if (result.status !== 'Succeeded' || !result.zipFile) {
        throw new Error(`Salesforce could not retrieve ${type}: ${result.errorMessage ?? result.status ?? 'no zip'}`);
      }
      for (const [name, bytes] of unzip(Buffer.from(result.zipFile, 'base64'))) {
        const file = name.endsWith(META_SUFFIX) ? name.slice(0, -META_SUFFIX.length) : name;
        const component = byFile.get(file);
        if (!component) continue; // package.xml
        await writer.add(
          {
            key: name,
            kind: name.endsWith(META_SUFFIX) ? 'component-meta' : 'component',
            meta: {
              object: type,
              name: component.fullName,
              modified: component.lastModifiedDate,
              ...(component.lastModifiedById ? { updatedBy: component.lastModifiedById } : {}),
              ...(component.createdById ? { createdBy: component.createdById } : {}),
            },
          },
          bytes,
        );
        if (!name.endsWith(META_SUFFIX)) stored++;
      }
    }
  } catch (err) {
    if (err instanceof BudgetExhausted) return finish(err.message);
    throw err;
  }
  return finish();
}
