// Removing what the catalog knows about a whole task or entity, when its snapshots are purged
// (task purge, archived or deleted entities past their retention). Snapshots forgotten one by one
// by a retention policy are not handled here: their versions may still describe later snapshots.
import type { EntityManager } from '@mikro-orm/core';
import { removeDocuments, runSql } from '../db/sqlite-catalog.ts';
import { CatalogSnapshot } from './entities.ts';

export async function forgetCatalogEntries(
  em: EntityManager,
  repositoryId: string,
  task: string,
  entities?: readonly string[],
): Promise<void> {
  const scope = entities ? ` and entity in (${entities.map(() => '?').join(', ')})` : '';
  if (entities && entities.length === 0) return;
  const params = [repositoryId, task, ...(entities ?? [])];
  const ids = await runSql<{ id: number }[]>(
    em,
    `select id from catalog_items where repository_id = ? and task = ?${scope}`,
    params,
  );
  await removeDocuments(
    em,
    ids.map((r) => Number(r.id)),
  );
  await runSql(
    em,
    `delete from catalog_versions where item_id in (select id from catalog_items where repository_id = ? and task = ?${scope})`,
    params,
  );
  await runSql(em, `delete from catalog_items where repository_id = ? and task = ?${scope}`, params);
  await em.nativeDelete(CatalogSnapshot, {
    repository: repositoryId,
    task,
    ...(entities ? { entity: { $in: [...entities] } } : {}),
  });
}
