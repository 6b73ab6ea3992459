// An item's content read from the repository before it is handed on, so that an item the
// repository holds damaged is left out and named rather than breaking the restore or export
// half-way through it (a service upload or an archive entry cannot be taken back). Content up to
// CHECK_IN_MEMORY is read once and handed on from memory; larger content is read through once to
// authenticate every blob, then streamed again.
import { Readable } from 'node:stream';
import { isDamage } from '../../storage/damaged-items.ts';
import type { SnapshotReader } from '../../storage/snapshot-reader.ts';
import type { ItemEntry } from '../../storage/tree.ts';

const CHECK_IN_MEMORY = 8 * 1024 * 1024;

export type CheckedContent = { content: () => Readable } | { damaged: string };

export async function checkedContent(reader: SnapshotReader, item: ItemEntry): Promise<CheckedContent> {
  if (!item.content?.length) return { content: () => reader.content(item) };
  const small = item.size <= CHECK_IN_MEMORY;
  const chunks: Buffer[] = [];
  try {
    for await (const chunk of reader.content(item)) if (small) chunks.push(chunk as Buffer);
  } catch (err) {
    if (!isDamage(err)) throw err;
    return { damaged: `the backup's copy is damaged: ${err.message}` };
  }
  if (!small) return { content: () => reader.content(item) };
  return { content: () => Readable.from(chunks) };
}
