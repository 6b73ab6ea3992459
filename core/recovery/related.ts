// `RestoreRun.related`: another entity's backup of the same task at the restored snapshot's point
// in time. A restore that crosses entities (a record's children live in another object's
// snapshots) reads them through this. Entities are backed up one after another (one round of
// "Backup now" or the schedule takes minutes or hours; an admin may back up objects one at a
// time), so no other snapshot has exactly the restored one's time. The snapshot of the same
// round (its backup job queued with the restored one's) is taken where there is one; else the one
// taken nearest in time among those after the restored entity's previous snapshot and before its
// next one (the state the restored snapshot saw, not one a later backup of the restored entity
// would have replaced); else the latest at or before the time, else the first. Manifests are
// listed once per restore, on the first call.
import type { EntityManager } from '@mikro-orm/core';
import type { Repository } from '../../storage/repository.ts';
import { SnapshotReader } from '../../storage/snapshot-reader.ts';
import type { ItemEntry } from '../../storage/tree.ts';
import { Job } from '../jobs/entities.ts';
import type { EntityRef, RelatedSnapshot, RestoreItem } from '../plugins/service.ts';

export interface RelatedSource {
  repo: Repository;
  taskId: string;
  /** The restored snapshot. */
  snapshotId: string;
  /** The task's entities by external id (names and kinds for `RelatedSnapshot.entity`). */
  entity(externalId: string): Promise<EntityRef | undefined>;
  /** The snapshots taken in the restored one's backup round (queued together), where known. */
  sameRound?(): Promise<ReadonlySet<string>>;
}

export interface SnapshotRef {
  id: string;
  entity: string;
  time: string;
  /** The backup round that took it (its job's queue time), where known. */
  round?: string | undefined;
}

/** Which snapshot of each entity goes with the restored one (see the header); pure. */
export function chooseRelated(snapshots: readonly SnapshotRef[], restored: SnapshotRef): Map<string, SnapshotRef> {
  const own = snapshots.filter((s) => s.entity === restored.entity && s.id !== restored.id);
  const after = own.filter((s) => s.time < restored.time).reduce((a, s) => (s.time > a ? s.time : a), '');
  const before = own.filter((s) => s.time > restored.time).reduce((a, s) => (s.time < a ? s.time : a), '\uffff');
  const distance = (s: SnapshotRef) => Math.abs(Date.parse(s.time) - Date.parse(restored.time));
  const chosen = new Map<string, SnapshotRef>([[restored.entity, restored]]);
  const byEntity = new Map<string, SnapshotRef[]>();
  for (const s of snapshots) {
    if (s.entity === restored.entity) continue;
    byEntity.set(s.entity, [...(byEntity.get(s.entity) ?? []), s]);
  }
  for (const [entity, list] of byEntity) {
    // Taken by a job queued with the restored snapshot's (one "Backup now" or scheduled round).
    const sameRound = restored.round ? list.filter((s) => s.round === restored.round).at(-1) : undefined;
    if (sameRound) {
      chosen.set(entity, sameRound);
      continue;
    }
    const window = list.filter((s) => s.time > after && s.time < before);
    const nearest = window.sort((a, b) => distance(a) - distance(b) || a.time.localeCompare(b.time))[0];
    const earlier = list.filter((s) => s.time <= restored.time).sort((a, b) => b.time.localeCompare(a.time))[0];
    const first = [...list].sort((a, b) => a.time.localeCompare(b.time))[0];
    const pick = nearest ?? earlier ?? first;
    if (pick) chosen.set(entity, pick);
  }
  return chosen;
}

export function relatedSnapshots(source: RelatedSource): (externalId: string) => Promise<RelatedSnapshot | undefined> {
  let latest: Promise<Map<string, SnapshotRef>> | undefined;
  const opened = new Map<string, Promise<RelatedSnapshot | undefined>>();
  const index = async () => {
    const round = (await source.sameRound?.()) ?? new Set<string>();
    const refs = (await source.repo.listSnapshots({ onDamaged: () => undefined }))
      .filter((s) => s.manifest.task === source.taskId)
      .map((s) => ({
        id: s.id,
        entity: s.manifest.entity,
        time: s.manifest.time,
        ...(round.has(s.id) ? { round: 'restored' } : {}),
      }));
    const restored = refs.find((s) => s.id === source.snapshotId);
    return restored ? chooseRelated(refs, restored) : new Map<string, SnapshotRef>();
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

/**
 * The snapshots of the restored one's backup round: those whose backup jobs were queued together
 * with the job that took it (the jobs still in the history).
 */
export async function sameRoundSnapshots(em: EntityManager, taskId: string, snapshotId: string): Promise<Set<string>> {
  const jobs = await em.find(
    Job,
    { task: taskId, kind: 'backup', state: { $in: ['succeeded', 'partially_succeeded'] } },
    { fields: ['createdAt', 'result'], orderBy: { createdAt: 'desc' }, limit: 10_000 },
  );
  const queued = jobs.find((j) => j.result?.snapshotId === snapshotId)?.createdAt.getTime();
  const out = new Set<string>();
  if (queued === undefined) return out;
  for (const j of jobs) {
    const id = j.result?.snapshotId;
    if (j.createdAt.getTime() === queued && typeof id === 'string') out.add(id);
  }
  return out;
}
