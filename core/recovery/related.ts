// `RestoreRun.related`: another entity's backup of the same task at the restored snapshot's point
// in time — the latest snapshot of that entity taken at or before it. A restore that crosses
// entities (a record's children live in another object's snapshots) reads them through this.
// Snapshot manifests are listed once per restore, on the first call.
import type { Repository } from '../../storage/repository.ts';
import { SnapshotReader } from '../../storage/snapshot-reader.ts';
import type { ItemEntry } from '../../storage/tree.ts';
import type { EntityRef, RelatedSnapshot, RestoreItem } from '../plugins/service.ts';

export interface RelatedSource {
  repo: Repository;
  taskId: string;
  /** The restored snapshot's time: nothing later is read. */
  time: string;
  /** The task's entities by external id (names and kinds for `RelatedSnapshot.entity`). */
  entity(externalId: string): Promise<EntityRef | undefined>;
}

export function relatedSnapshots(source: RelatedSource): (externalId: string) => Promise<RelatedSnapshot | undefined> {
  let latest: Promise<Map<string, { id: string; time: string }>> | undefined;
  const opened = new Map<string, Promise<RelatedSnapshot | undefined>>();
  const index = async () => {
    const byEntity = new Map<string, { id: string; time: string }>();
    // Oldest first: the last one at or before the time wins.
    for (const { id, manifest } of await source.repo.listSnapshots({ onDamaged: () => undefined })) {
      if (manifest.task !== source.taskId || manifest.time > source.time) continue;
      byEntity.set(manifest.entity, { id, time: manifest.time });
    }
    return byEntity;
  };
  const open = async (externalId: string): Promise<RelatedSnapshot | undefined> => {
    latest ??= index();
    const found = (await latest).get(externalId);
    const entity = await source.entity(externalId);
    if (!found || !entity) return undefined;
    const reader = await SnapshotReader.open(source.repo, found.id);
    const toItem = (item: ItemEntry): RestoreItem => ({
      key: item.key,
      kind: item.kind,
      size: item.size,
      ...(item.meta ? { meta: item.meta } : {}),
      content: () => reader.content(item),
    });
    return {
      entity,
      time: found.time,
      get: async (key) => {
        const item = await reader.item(key);
        return item ? toItem(item) : undefined;
      },
      items: async function* () {
        for await (const item of reader.items()) yield toItem(item);
      },
    };
  };
  return (externalId) => {
    let snapshot = opened.get(externalId);
    if (!snapshot) {
      snapshot = open(externalId);
      opened.set(externalId, snapshot);
    }
    return snapshot;
  };
}
