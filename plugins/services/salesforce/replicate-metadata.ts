// Replicating metadata (seed 6.3.2): the backup round's metadata components — every type the
// backup holds (Full Organization) or the types named (Granular Selection) — deployed to another
// task's Sandbox org as one package, through the metadata restore (metadata-restore.ts): checked
// first (check-only, all or nothing), then deployed; a refused component is named per item and
// nothing changes. Production is refused as a target before anything is read.
import type { RestoreItem, RestoreOutcome, RestoreRun } from '../../../core/plugins/service.ts';
import { restoreMetadata } from './metadata-restore.ts';
import { checkReplicateTarget, ReplicateRefused } from './replicate.ts';
import type { ReplicateOptions } from './restore-options.ts';
import { API_VERSION, type SalesforceApi } from './session.ts';

/** The entity external id of a metadata type (connection.ts's discovery). */
const METADATA_PREFIX = 'metadata:';

export async function replicateMetadata(
  api: SalesforceApi,
  run: RestoreRun,
  options: ReplicateOptions,
  pollMs?: number,
): Promise<RestoreOutcome> {
  checkReplicateTarget(api.settings);
  let types = options.metadataTypes;
  if (types.length === 0) {
    // Full Organization: every type the target knows; those the backup does not hold are skipped.
    run.step('listing metadata types');
    const described = (await api.call(
      'listing metadata types',
      () => api.conn.metadata.describe(API_VERSION),
      run.signal,
    )) as unknown as { metadataObjects?: { xmlName: string }[] };
    types = (described.metadataObjects ?? []).map((o) => o.xmlName);
  }
  const missing: string[] = [];
  const sources = [];
  for (const type of types) {
    const snapshot = await run.related(`${METADATA_PREFIX}${type}`);
    if (snapshot) sources.push(snapshot);
    else if (options.metadataTypes.length) missing.push(type);
  }
  // A type asked for by name and not in the backup: said before anything is deployed.
  if (missing.length) {
    throw new ReplicateRefused(
      `The backup holds no ${missing.join(', ')} at this point in time (${missing.map((t) => `${METADATA_PREFIX}${t}`).join(', ')}): choose types it backed up.`,
    );
  }
  run.log.info({ types: sources.map((s) => s.entity.name) }, 'Salesforce metadata replicate chose its types');
  const items = (async function* (): AsyncGenerator<RestoreItem> {
    for (const snapshot of sources) {
      run.signal.throwIfAborted();
      yield* snapshot.items();
    }
  })();
  const outcome = await restoreMetadata(api, { ...run, items }, pollMs);
  const failed = outcome.failedItems ?? [];
  // A deploy is all or nothing: a refusal deployed nothing, so the replicate failed.
  if (outcome.restored === 0 && failed.length) {
    for (const f of failed.slice(0, 50)) run.log.warn({ key: f.key }, `not deployed: ${f.reason}`);
    throw new Error(
      `Nothing was deployed to the Sandbox: ${failed.length} component file(s) failed; the first: ${failed[0]?.key}: ${failed[0]?.reason}`,
    );
  }
  return outcome;
}
