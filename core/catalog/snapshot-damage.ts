// Snapshots marked damaged: what the last scheduled verification of their repository found lost in
// each (core/storage-locations/verification.ts). A run replaces the marks of the repository it
// read, so a snapshot made whole again (its content stored again by a backup, or replaced by a
// repair) loses its mark at the next run. Recovery shows the marks on the snapshot lists and pages.
import type { EntityManager } from '@mikro-orm/core';
import { CatalogSnapshot, CatalogSnapshotDamage } from './entities.ts';

export interface SnapshotDamage {
  /** Keys of the items whose content cannot be read from any copy. */
  items: string[];
  /** Ranges of items under tree nodes that cannot be read. */
  ranges: string[];
  foundAt: Date;
}

/** Sets the marks of one repository's snapshots to `lost` (snapshots not in the catalog are skipped). */
export async function markSnapshotDamage(
  em: EntityManager,
  repositoryId: string,
  lost: { snapshot: string; items: string[]; ranges: string[] }[],
  now: Date,
): Promise<void> {
  const known = new Set(
    (
      await em.find(
        CatalogSnapshot,
        { repository: repositoryId, id: { $in: lost.map((l) => l.snapshot) } },
        { fields: ['id'] },
      )
    ).map((s) => s.id),
  );
  const marked = lost.filter((l) => known.has(l.snapshot));
  await em.nativeDelete(CatalogSnapshotDamage, {
    snapshot: { repository: repositoryId, id: { $nin: marked.map((l) => l.snapshot) } },
  });
  const existing = new Map(
    (await em.find(CatalogSnapshotDamage, { snapshot: { $in: marked.map((l) => l.snapshot) } })).map((d) => [
      d.snapshot.id,
      d,
    ]),
  );
  for (const l of marked) {
    const row = existing.get(l.snapshot);
    if (row) {
      // Kept from the first run that found it, unless what is lost changed.
      if (JSON.stringify([row.items, row.ranges]) !== JSON.stringify([l.items, l.ranges])) row.foundAt = now;
      row.items = l.items;
      row.ranges = l.ranges;
    } else
      em.create(CatalogSnapshotDamage, {
        snapshot: em.getReference(CatalogSnapshot, l.snapshot),
        items: l.items,
        ranges: l.ranges,
        foundAt: now,
      });
  }
  await em.flush();
}

/** The marks of the given snapshots, by snapshot id. */
export async function damageOf(em: EntityManager, snapshotIds: string[]): Promise<Map<string, SnapshotDamage>> {
  if (snapshotIds.length === 0) return new Map();
  const rows = await em.find(CatalogSnapshotDamage, { snapshot: { $in: snapshotIds } });
  return new Map(rows.map((d) => [d.snapshot.id, { items: d.items, ranges: d.ranges, foundAt: d.foundAt }]));
}
