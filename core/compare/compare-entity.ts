// One entity's two snapshots compared (either may be absent: the entity did not exist then): the
// item lists walked together (item-diff.ts) — or, for two layered snapshots of one base, only
// their delta trees (the snapshot diff) — unchanged items never read, and each item whose
// entries differ read on both sides to tell what changed — the service's fields less the ignored
// ones, or a unified diff of text. Used by the compare job and the compare benchmark.
import { buffer } from 'node:stream/consumers';
import type { SnapshotReader } from '../../storage/snapshot-reader.ts';
import type { ItemEntry } from '../../storage/tree.ts';
import { ITEM_FIELDS_MAX_BYTES, type ServicePlugin } from '../plugins/service.ts';
import { type FieldChange, fieldChanges } from './field-diff.ts';
import { type DiffCounts, diffItems, type ItemDifference, sameContent } from './item-diff.ts';
import { unifiedDiff } from './line-diff.ts';
import type { DifferenceLine } from './result-store.ts';

/** A unified diff longer than this is cut (the note says so). */
const MAX_DIFF_CHARS = 512 * 1024;

export interface EntityCounts {
  leftTotal: number;
  leftUnique: number;
  changed: number;
  rightUnique: number;
  rightTotal: number;
  /** Items whose content was read (both versions of each changed candidate). */
  contentReads: number;
}

export interface CompareEntityOptions {
  /** Both snapshots live in one repository: equal blob ids mean equal content. */
  oneRepository: boolean;
  plugin: ServicePlugin | undefined;
  ignored: ReadonlySet<string>;
  signal: AbortSignal;
  onDifference(line: Omit<DifferenceLine, 'o'>): Promise<void>;
}

function isText(bytes: Buffer): boolean {
  return !bytes.includes(0);
}

/** What differs between two versions of an item, or undefined when nothing compared does. */
function describeChange(
  plugin: ServicePlugin | undefined,
  item: ItemEntry,
  left: Buffer,
  right: Buffer,
  ignored: ReadonlySet<string>,
): { fields: FieldChange[] } | { diff: string } | undefined {
  const fieldsOf = plugin?.presentation?.fields;
  if (fieldsOf && left.length <= ITEM_FIELDS_MAX_BYTES && right.length <= ITEM_FIELDS_MAX_BYTES) {
    const a = fieldsOf(item, left);
    const b = fieldsOf(item, right);
    if (a && b) {
      const changes = fieldChanges(a, b, ignored);
      return changes.length ? { fields: changes } : undefined;
    }
  }
  if (left.equals(right)) return undefined;
  if (!isText(left) || !isText(right)) return { diff: 'Binary content differs.' };
  const diff = unifiedDiff(item.key, left.toString('utf8'), right.toString('utf8'));
  return { diff: diff.length > MAX_DIFF_CHARS ? `${diff.slice(0, MAX_DIFF_CHARS)}\n… (cut)\n` : diff };
}

function nameOf(item: ItemEntry): string {
  const name = item.meta?.name;
  return typeof name === 'string' ? name : '';
}

/** Two layered snapshots of one base tree (an entity's runs between compactions). */
function sameBase(left: SnapshotReader, right: SnapshotReader): boolean {
  const a = left.manifest;
  const b = right.manifest;
  return a.tree === b.tree && (a.layers?.length ?? 0) <= 1 && (b.layers?.length ?? 0) <= 1;
}

/**
 * The differences of two snapshots over one base from their delta trees alone (the snapshot diff
 * lists the deltas and looks keys one of them lacks up in the base): a compare of a million-row
 * object with a few thousand changes reads those, not both lists of a million. The totals are the
 * snapshots' own counts.
 */
async function* layerDifferences(
  left: SnapshotReader,
  right: SnapshotReader,
  counts: DiffCounts,
  signal: AbortSignal,
): AsyncGenerator<ItemDifference> {
  counts.left = left.manifest.stats.items;
  counts.right = right.manifest.stats.items;
  let seen = 0;
  for await (const c of left.diff(right)) {
    if (++seen % 1024 === 0) signal.throwIfAborted();
    if (c.change === 'removed') yield { key: c.key, side: 'left', left: c.before as ItemEntry };
    else if (c.change === 'added') yield { key: c.key, side: 'right', right: c.after as ItemEntry };
    else if (sameContent(c.before as ItemEntry, c.after as ItemEntry, true) !== true) {
      yield { key: c.key, side: 'both', left: c.before as ItemEntry, right: c.after as ItemEntry };
    }
  }
}

export async function compareEntity(
  left: SnapshotReader | undefined,
  right: SnapshotReader | undefined,
  options: CompareEntityOptions,
): Promise<EntityCounts> {
  const result: EntityCounts = {
    leftTotal: 0,
    leftUnique: 0,
    changed: 0,
    rightUnique: 0,
    rightTotal: 0,
    contentReads: 0,
  };
  const counts: DiffCounts = { left: 0, right: 0 };
  const none = async function* (): AsyncGenerator<ItemEntry> {};
  const overBase = options.oneRepository && left && right && sameBase(left, right);
  const differences = overBase
    ? layerDifferences(left, right, counts, options.signal)
    : diffItems(left?.items() ?? none(), right?.items() ?? none(), {
        oneRepository: options.oneRepository,
        counts,
        signal: options.signal,
      });
  for await (const d of differences) {
    if (d.side === 'left') {
      result.leftUnique++;
      await options.onDifference({ key: d.key, name: nameOf(d.left), side: 'left' });
    } else if (d.side === 'right') {
      result.rightUnique++;
      await options.onDifference({ key: d.key, name: nameOf(d.right), side: 'right' });
    } else {
      const [a, b] = await Promise.all([
        buffer((left as SnapshotReader).content(d.left)),
        buffer((right as SnapshotReader).content(d.right)),
      ]);
      result.contentReads += 2;
      const change = describeChange(options.plugin, d.right, a, b, options.ignored);
      if (!change) continue;
      result.changed++;
      await options.onDifference({ key: d.key, name: nameOf(d.right) || nameOf(d.left), side: 'both', ...change });
    }
  }
  result.leftTotal = counts.left;
  result.rightTotal = counts.right;
  return result;
}
