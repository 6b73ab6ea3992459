// `RestoreRun.related`: another entity's backup of the same task at the restored snapshot's point
// in time — the latest snapshot of that entity taken at or before it (or, for an entity whose
// first snapshot came later, that one: one backup round takes its snapshots one after another). A restore that crosses
// entities (a record's children live in another object's snapshots) reads them through this.
// Snapshot manifests are listed once per restore, on the first call.
import type { EntityManager } from '@mikro-orm/core';
import type { Repository } from '../../storage/repository.ts';
import { SnapshotReader } from '../../storage/snapshot-reader.ts';
import type { ItemEntry } from '../../storage/tree.ts';
import { Job } from '../jobs/entities.ts';
import type { EntityRef, RelatedSnapshot, RestoreItem } from '../plugins/service.ts';

export interface RelatedSource {
  repo: Repository;
  taskId: string;
  /** The restored snapshot's time: nothing later is read. */
  time: string;
  /** The task's entities by external id (names and kinds for `RelatedSnapshot.entity`). */
  entity(externalId: string): Promise<EntityRef | undefined>;
  /** When the backup job that wrote each snapshot was queued (snapshot id → ISO time), where known. */
  queuedAt?(): Promise<ReadonlyMap<string, string>>;
  /** The restored snapshot's id. */
  snapshotId?: string;
}

export function relatedSnapshots(source: RelatedSource): (externalId: string) => Promise<RelatedSnapshot | undefined> {
  let latest: Promise<Map<string, { id: string; time: string }>> | undefined;
  const opened = new Map<string, Promise<RelatedSnapshot | undefined>>();
  const index = async () => {
    const byEntity = new Map<string, { id: string; time: string }>();
    const queued = (await source.queuedAt?.()) ?? new Map<string, string>();
    const round = source.snapshotId ? queued.get(source.snapshotId) : undefined;
    const snapshots = (await source.repo.listSnapshots({ onDamaged: () => undefined })).filter(
      (s) => s.manifest.task === source.taskId,
    );
    // Oldest first: the last one within the round (or the time) wins; an entity first backed up
    // after it gets its first one.
    for (const { id, manifest } of snapshots) {
      const at = queued.get(id);
      const within = round && at ? at <= round : manifest.time <= source.time;
      if (within || !byEntity.has(manifest.entity)) byEntity.set(manifest.entity, { id, time: manifest.time });
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

/** Snapshot id → when its backup job was queued, for the task's backup jobs still in the history. */
export async function backupRounds(em: EntityManager, taskId: string): Promise<Map<string, string>> {
  const jobs = await em.find(
    Job,
    { task: taskId, kind: 'backup', state: { $in: ['succeeded', 'partially_succeeded'] } },
    { fields: ['createdAt', 'result'] },
  );
  const out = new Map<string, string>();
  for (const j of jobs) {
    const id = j.result?.snapshotId;
    if (typeof id === 'string') out.set(id, j.createdAt.toISOString());
  }
  return out;
}
