// Files restored with their records: a record with blob fields (ContentVersion VersionData,
// Attachment / Document Body) is created on its own, its content read from the backup's
// `<Id>/<Field>` item and sent base64 in the JSON body of one sObject create (as jsforce does; the
// sObject Collections carry no blobs). A ContentVersion is always created as a new file (a new
// ContentDocument): FirstPublishLocationId, remapped like any lookup, links it to the restored
// record (Salesforce makes the ContentDocumentLink); only the latest version of a file is restored.
import type { RestoreItem } from '../../../core/plugins/service.ts';
import type { ObjectInfo, SourceRecord } from './restore-plan.ts';

/**
 * The largest file sent: Salesforce refuses a non-multipart request body over 50 MB, and base64
 * makes 4 bytes of 3, so about 37.5 MB of content; a little is kept for the record's other fields.
 * While one file is sent, the content, its base64 text and the JSON body are held in memory
 * (about 3.7 times the file's size); files are sent one at a time.
 */
export const MAX_INLINE_BLOB = 37_000_000;

/** Reads a blob item of the backup: `<Id>/<Field>` of the record's object. */
export type BlobSource = (object: string, id: string, field: string) => Promise<RestoreItem | undefined>;

/** The blob fields a create can set. */
export function blobFields(info: ObjectInfo): string[] {
  return info.fields.filter((f) => f.type === 'base64' && f.createable).map((f) => f.name);
}

/** A file's earlier version: not restored (its latest version is, as a new file). */
export function isEarlierVersion(r: SourceRecord): boolean {
  return r.object === 'ContentVersion' && r.values.IsLatest === false;
}

/** Fields of a record's body that a restored file must not carry. */
export function fileBodyFixes(object: string, body: Record<string, unknown>, emptied: { field: string }[]): void {
  if (object !== 'ContentVersion') return;
  // A new ContentDocument is made by the insert; naming the old one would add a version to it.
  delete body.ContentDocumentId;
  const at = emptied.findIndex((e) => e.field === 'ContentDocumentId');
  if (at >= 0) emptied.splice(at, 1);
}

export class BlobTooLarge extends Error {
  constructor(field: string, size: number) {
    super(
      `${field} is ${size} bytes, more than the ${MAX_INLINE_BLOB} bytes one JSON create can carry; not restored (download it from the backup)`,
    );
    this.name = 'BlobTooLarge';
  }
}

/** The record's blob fields as base64, read from the backup one at a time. */
export async function blobValues(
  blob: BlobSource,
  record: SourceRecord,
  fields: readonly string[],
  signal: AbortSignal,
): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const field of fields) {
    const item = await blob(record.object, record.id, field);
    if (!item) continue;
    if (item.size > MAX_INLINE_BLOB) throw new BlobTooLarge(field, item.size);
    const bytes = Buffer.allocUnsafe(item.size);
    let at = 0;
    for await (const chunk of item.content()) {
      signal.throwIfAborted();
      const part = chunk as Uint8Array;
      if (at + part.length > bytes.length)
        throw new Error(`${record.id}/${field}: the backup holds more than its size`);
      bytes.set(part, at);
      at += part.length;
    }
    out[field] = bytes.subarray(0, at).toString('base64');
  }
  return out;
}
