// Item search over the catalog: full-text on name, path and author, then each hit with its
// latest version (whether it still exists, its size, when it changed, in which snapshot).
import type { EntityManager } from '@mikro-orm/core';
import { matchDocuments } from '../db/catalog-sql.ts';
import { CatalogItem, CatalogVersion } from './entities.ts';

export interface SearchHit {
  id: number;
  repository: string;
  task: string;
  entity: string;
  key: string;
  kind: string;
  name: string;
  path: string;
  author: string | null;
  latest: { snapshot: string; size: number; modified: Date | null; deleted: boolean } | undefined;
}

export async function searchCatalog(
  em: EntityManager,
  options: { text: string; repositories?: string[]; limit?: number },
): Promise<SearchHit[]> {
  const limit = Math.min(Math.max(options.limit ?? 50, 1), 500);
  // Ask the index for more than needed when filtering by repository afterwards.
  const ids = await matchDocuments(em, options.text, options.repositories ? limit * 10 : limit);
  if (ids.length === 0) return [];
  const items = await em.find(
    CatalogItem,
    { id: { $in: ids }, ...(options.repositories ? { scope: { repository: { $in: options.repositories } } } : {}) },
    { populate: ['scope'] },
  );
  const byId = new Map(items.map((i) => [i.id, i]));
  const ordered = ids.flatMap((id) => (byId.has(id) ? [byId.get(id) as (typeof items)[number]] : [])).slice(0, limit);
  const versions = await em.find(
    CatalogVersion,
    { item: { $in: ordered.map((i) => i.id) } },
    { orderBy: { id: 'asc' } },
  );
  const latest = new Map<number, (typeof versions)[number]>();
  for (const v of versions) latest.set(v.item.id, v);
  return ordered.map((item) => {
    const v = latest.get(item.id);
    return {
      id: item.id,
      repository: item.scope.repository.id,
      task: item.scope.task,
      entity: item.scope.entity,
      key: item.key,
      kind: item.kind,
      name: item.name,
      path: item.path,
      author: item.author ?? null,
      latest: v
        ? { snapshot: v.snapshot.id, size: Number(v.size), modified: v.modified ?? null, deleted: Boolean(v.deleted) }
        : undefined,
    };
  });
}
