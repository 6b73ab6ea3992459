// One backed-up item's content as labelled fields (a record's field names and values), for
// Recovery's item view: the item is read from the task's repository under a shared lock (prune
// waits), at most ITEM_FIELDS_MAX_BYTES of it, and handed to the plugin's
// `presentation.fields`. The catalog says whether the snapshot holds the item; this reads it.
import { isDamage } from '../../storage/damaged-items.ts';
import { withLock } from '../../storage/locks.ts';
import { SnapshotReader } from '../../storage/snapshot-reader.ts';
import type { Logger } from '../logging.ts';
import { ITEM_FIELDS_MAX_BYTES, type ItemField, type ServicePlugin } from '../plugins/service.ts';
import type { IBackupTask } from '../tasks/entities.ts';
import type { TaskStorage } from '../tasks/storage.ts';

export type ItemFieldsResult =
  | { kind: 'fields'; fields: ItemField[] }
  /** The service shows no fields for this item (a file), or has no field view at all. */
  | { kind: 'none' }
  | { kind: 'too_large'; limit: number }
  | { kind: 'unreadable'; reason: string };

/**
 * The item's fields as the plugin presents them. A storage that cannot be reached (or a plugin
 * that throws) is logged and answered as unreadable: the view still shows the item's facts.
 */
export async function readItemFields(
  storage: TaskStorage,
  task: Pick<IBackupTask, 'id' | 'storageLocation'> & { organization: { id: string } },
  snapshotId: string,
  key: string,
  plugin: ServicePlugin | undefined,
  log: Logger,
): Promise<ItemFieldsResult> {
  if (!plugin?.presentation?.fields) return { kind: 'none' };
  try {
    return await readFields(storage, task, snapshotId, key, plugin.presentation.fields);
  } catch (err) {
    log.warn({ err, task: task.id, snapshot: snapshotId }, 'item view: the backup could not be read');
    return { kind: 'unreadable', reason: 'the backup storage could not be read (see the appliance log)' };
  }
}

async function readFields(
  storage: TaskStorage,
  task: Pick<IBackupTask, 'id' | 'storageLocation'> & { organization: { id: string } },
  snapshotId: string,
  key: string,
  fieldsOf: NonNullable<NonNullable<ServicePlugin['presentation']>['fields']>,
): Promise<ItemFieldsResult> {
  const opened = await storage.open({
    id: task.id,
    organizationId: task.organization.id,
    storageLocation: task.storageLocation ?? null,
  });
  try {
    return await withLock(opened.repo.sink, 'shared', { purpose: 'item view' }, async () => {
      const reader = await SnapshotReader.open(opened.repo, snapshotId);
      if (reader.manifest.task !== task.id) return { kind: 'unreadable', reason: 'the snapshot is another task’s' };
      const item = await reader.item(key);
      if (!item || item.deleted) return { kind: 'unreadable', reason: 'the snapshot does not hold this item' };
      if (item.size > ITEM_FIELDS_MAX_BYTES) return { kind: 'too_large', limit: ITEM_FIELDS_MAX_BYTES };
      const chunks: Buffer[] = [];
      try {
        for await (const chunk of reader.content(item)) chunks.push(chunk as Buffer);
      } catch (err) {
        if (!isDamage(err)) throw err;
        return { kind: 'unreadable', reason: `the backup's copy is damaged: ${err.message}` };
      }
      const fields = fieldsOf({ key: item.key, kind: item.kind, meta: item.meta }, Buffer.concat(chunks));
      return fields ? { kind: 'fields', fields } : { kind: 'none' };
    });
  } finally {
    await opened.close();
  }
}
