// Replicate (seed 6.3.1): which records of a snapshot round go to a Sandbox org — every object's
// (Full Organization) or the parents' filtered and limited (Multiple Parent Objects), whose
// children the restore's gathering adds — and their anonymization before they are written. The
// restore engine (restore.ts) does the rest: hierarchy, insert order, id remapping, report.
import { createHash } from 'node:crypto';
import { Anonymizer } from './anonymize.ts';
import type { BackupSource } from './restore-gather.ts';
import type { ReplicateOptions } from './restore-options.ts';
import type { ObjectInfo, SourceRecord } from './restore-plan.ts';
import type { SalesforceSettings } from './session.ts';
import { parseWhere } from './where.ts';

/** Objects a Full Organization replicate leaves out: the org's users and setup, not its data. */
const NOT_REPLICATED =
  /^(User|Group|GroupMember|Profile|PermissionSet.*|UserRole|RecordType|Organization|BusinessHours|Folder|ContentDocument|ContentVersion|ContentDocumentLink)$|(History|Share|Feed|ChangeEvent)$/;

export class ReplicateRefused extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ReplicateRefused';
  }
}

/** Only a Sandbox takes a replicate: the target task's environment says which it is. */
export function checkReplicateTarget(settings: Pick<SalesforceSettings, 'environment' | 'orgName'>): void {
  if (settings.environment === 'sandbox') return;
  throw new ReplicateRefused(
    `Replicate writes only to a Sandbox org: ${settings.orgName ? `“${settings.orgName}” ` : 'the target task '}is connected as ${settings.environment === 'production' ? 'Production' : 'a My Domain org'}. Choose a task connected to a Sandbox.`,
  );
}

/** The records a replicate starts from (depth 0), each handed to `add`; the parents' children come from the gathering. */
export async function replicaRecords(
  options: ReplicateOptions,
  objects: readonly string[],
  source: BackupSource,
  signal: AbortSignal,
  add: (record: SourceRecord) => void,
): Promise<number> {
  let chosen = 0;
  if (options.scope === 'full') {
    for (const object of objects) {
      if (NOT_REPLICATED.test(object)) continue;
      signal.throwIfAborted();
      for await (const [id, values] of source.all(object)) {
        add({ object, id, values, depth: 0 });
        chosen++;
      }
    }
    return chosen;
  }
  for (const parent of options.parents) {
    const keep = parseWhere(parent.where);
    let taken = 0;
    for await (const [id, values] of source.all(parent.object)) {
      if (parent.limit !== undefined && taken >= parent.limit) break;
      if (!keep(values)) continue;
      add({ object: parent.object, id, values, depth: 0 });
      chosen++;
      taken++;
    }
  }
  return chosen;
}

/**
 * The target task's anonymization key: its own sealed `anonymizationKey` (made when the task is
 * connected), else, for a task connected before there was one, a key derived from its sealed
 * credentials (stable until the task is connected again).
 */
export function anonymizationKey(settings: SalesforceSettings): Buffer {
  if (settings.anonymizationKey) return Buffer.from(settings.anonymizationKey, 'base64url');
  const secret = settings.refreshToken ?? settings.privateKey ?? '';
  return createHash('sha256').update(`holdfast-anonymization\0${settings.orgId}\0${secret}`).digest();
}

/** The records with their fields anonymized (ids and lookups untouched, so the remapping still works). */
export function anonymizeRecords(
  records: readonly SourceRecord[],
  info: ReadonlyMap<string, ObjectInfo>,
  options: ReplicateOptions,
  key: Buffer,
): SourceRecord[] {
  const anonymizer = new Anonymizer(key, options.rules);
  return records.map((r) => ({
    ...r,
    values: anonymizer.record(r.object, r.values, info.get(r.object)?.fields ?? []),
  }));
}
