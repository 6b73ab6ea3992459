// Reading every row of a large filtered log (audit, activity) newest first, in batches, for CSV
// exports: keyset paging on (at, id), so each batch costs the same instead of re-reading an
// ever-growing offset, and rows written meanwhile neither shift nor repeat the ones still to come.
import type { EntityManager, EntityName, FilterQuery } from '@mikro-orm/core';

const BATCH = 1000;

export async function* newestFirst<T extends { at: Date; id: number }>(
  em: EntityManager,
  entity: EntityName<T>,
  where: FilterQuery<T>,
  populate: readonly string[] = [],
): AsyncGenerator<T> {
  let last: { at: Date; id: number } | undefined;
  for (;;) {
    const after = last
      ? { $and: [where, { $or: [{ at: { $lt: last.at } }, { at: last.at, id: { $lt: last.id } }] }] }
      : where;
    const batch = (await em.find(entity, after as FilterQuery<T>, {
      orderBy: { at: 'desc', id: 'desc' } as never,
      limit: BATCH,
      populate: populate as never,
    })) as T[];
    yield* batch;
    const tail = batch.at(-1);
    if (!tail || batch.length < BATCH) return;
    last = { at: tail.at, id: tail.id };
    em.clear();
  }
}
