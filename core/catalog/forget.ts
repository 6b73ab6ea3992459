// Keeps the catalog true when snapshots leave a repository (retention, prune): no catalog row may
// name a snapshot that is gone. A version records the snapshot where a state first appeared, and
// unchanged items add no rows to later snapshots, so a forgotten snapshot's versions are not
// simply dropped: each moves to the entity's next snapshot, unless that one has its own version
// of the item (a later change supersedes it). A deletion left as an item's earliest version, and
// items left without any version, are removed: the result is what a reindex would build.
import type { EntityManager } from '@mikro-orm/core';
import { removeOrphanItems, runSql } from '../db/catalog-sql.ts';

interface SnapshotRow {
  id: string;
  task: string;
  entity: string;
  time: number | string;
}

/** Removes from the catalog every snapshot of the repository that `stillThere` lacks; returns how many. */
export function forgetMissingSnapshots(
  em: EntityManager,
  repositoryId: string,
  stillThere: ReadonlySet<string>,
): Promise<number> {
  return forgetSnapshots(em, repositoryId, (id) => !stillThere.has(id));
}

/** Removes from the catalog the snapshots of the repository that `gone` names; returns how many. */
export async function forgetSnapshots(
  em: EntityManager,
  repositoryId: string,
  isGone: (id: string) => boolean,
): Promise<number> {
  return em.transactional(async (tx) => {
    const rows = await runSql<SnapshotRow[]>(
      tx,
      'select id, task, entity, time from catalog_snapshots where repository_id = ? order by time, id',
      [repositoryId],
    );
    const gone = rows.filter((r) => isGone(r.id));
    if (gone.length === 0) return 0;
    const forgotten = new Set<string>();
    // Oldest first: a run of forgotten snapshots hands its versions on to the first kept one.
    for (const snapshot of gone) {
      const next = rows.find(
        (r) =>
          r.task === snapshot.task &&
          r.entity === snapshot.entity &&
          !forgotten.has(r.id) &&
          r.id !== snapshot.id &&
          rows.indexOf(r) > rows.indexOf(snapshot),
      );
      if (next) {
        await runSql(
          tx,
          'delete from catalog_versions where snapshot_id = ? and item_id in (select item_id from catalog_versions where snapshot_id = ?)',
          [snapshot.id, next.id],
        );
        await runSql(tx, 'update catalog_versions set snapshot_id = ? where snapshot_id = ?', [next.id, snapshot.id]);
      }
      // Versions still naming it (it was the entity's newest) go with it (cascade).
      await runSql(tx, 'delete from catalog_snapshots where id = ?', [snapshot.id]);
      forgotten.add(snapshot.id);
    }
    // A deletion that is now an item's earliest version refers to a state no snapshot holds.
    await runSql(
      tx,
      `delete from catalog_versions where deleted = true and snapshot_id in (select id from catalog_snapshots where repository_id = ?)
        and not exists (select 1 from catalog_versions earlier
          join catalog_snapshots e on e.id = earlier.snapshot_id
          join catalog_snapshots d on d.id = catalog_versions.snapshot_id
          where earlier.item_id = catalog_versions.item_id and (e.time < d.time or (e.time = d.time and e.id < d.id)))`,
      [repositoryId],
    );
    await removeOrphanItems(tx, repositoryId);
    return gone.length;
  });
}
