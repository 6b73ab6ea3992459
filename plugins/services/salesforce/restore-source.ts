// The restore's view of the backup (restore-gather's BackupSource) over the related snapshots of
// the same backup round: children found in one streamed pass over the child object's snapshot,
// each record parsed and handed on only when its lookup names a parent being restored; records by
// id read through the snapshot's index. Nothing here holds more than the record being read.
import type { RelatedSnapshot, RestoreItem } from '../../../core/plugins/service.ts';
import type { BackupSource, ChildLink } from './restore-gather.ts';

export async function recordOf(item: RestoreItem): Promise<Record<string, unknown>> {
  const parts: Buffer[] = [];
  for await (const chunk of item.content()) parts.push(Buffer.from(chunk as Uint8Array));
  return JSON.parse(Buffer.concat(parts).toString('utf8')) as Record<string, unknown>;
}

export function snapshotSource(
  related: (object: string) => Promise<RelatedSnapshot | undefined>,
  /** Told one id of each object met (its key prefix names the object in polymorphic lookups). */
  learn: (object: string, id: string) => void,
  signal: AbortSignal,
): BackupSource {
  return {
    async *children(object: string, links: readonly ChildLink[]): AsyncGenerator<[string, Record<string, unknown>]> {
      const snapshot = await related(object);
      if (!snapshot) return;
      let first = true;
      for await (const item of snapshot.items()) {
        if (item.kind !== 'record') continue;
        signal.throwIfAborted();
        if (first) learn(object, item.key);
        first = false;
        const values = await recordOf(item);
        if (links.some((l) => l.parents.has(values[l.field] as string))) yield [item.key, values];
      }
    },
    async *all(object: string): AsyncGenerator<[string, Record<string, unknown>]> {
      const snapshot = await related(object);
      if (!snapshot) return;
      let first = true;
      for await (const item of snapshot.items()) {
        if (item.kind !== 'record') continue;
        signal.throwIfAborted();
        if (first) learn(object, item.key);
        first = false;
        yield [item.key, await recordOf(item)];
      }
    },
    async records(object: string, ids: readonly string[]) {
      const found = new Map<string, Record<string, unknown>>();
      const snapshot = ids.length ? await related(object) : undefined;
      for (const id of ids) {
        signal.throwIfAborted();
        const item = await snapshot?.get(id);
        if (item?.kind === 'record') found.set(id, await recordOf(item));
      }
      if (found.size) learn(object, found.keys().next().value as string);
      return found;
    },
  };
}
