// Files restored with their records: a record with blob fields (ContentVersion VersionData,
// Attachment / Document Body) is created on its own, its content read from the backup's
// `<Id>/<Field>` item: up to 1 MiB base64 in the JSON body of one sObject create (as jsforce
// does; the sObject Collections carry no blobs), larger as Salesforce's multipart form, streamed
// from the repository to the connection (memory does not grow with the file). A ContentVersion is always created as a new file (a new
// ContentDocument): FirstPublishLocationId, remapped like any lookup, links it to the restored
// record (Salesforce makes the ContentDocumentLink); only the latest version of a file is restored.
import { randomUUID } from 'node:crypto';
import type { RestoreItem } from '../../../core/plugins/service.ts';
import type { ObjectInfo, SourceRecord } from './restore-plan.ts';
import type { SalesforceApi } from './session.ts';

/**
 * Files up to this size go base64 in a JSON body: the content, its base64 text and the body are
 * in memory (about 3.7 times the file) for one call; larger ones are streamed as multipart.
 */
export const MULTIPART_FROM = 1024 * 1024;

/** Salesforce's limits for a multipart blob insert: 2 GB for a ContentVersion, 500 MB otherwise. */
export function maxBlob(object: string): number {
  return object === 'ContentVersion' ? 2_000_000_000 : 500_000_000;
}

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
  constructor(field: string, size: number, max: number) {
    super(
      `${field} is ${size} bytes, more than the ${max} bytes Salesforce takes in one upload; not restored (download it from the backup)`,
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
    if (item.size > MULTIPART_FROM) throw new Error(`${record.id}/${field} is sent as multipart, not inline`);
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

/** The record's blob over MULTIPART_FROM, if it has one (checked against Salesforce's limit). */
export async function largeBlob(
  blob: BlobSource,
  record: SourceRecord,
  fields: readonly string[],
): Promise<{ field: string; item: RestoreItem } | undefined> {
  for (const field of fields) {
    const item = await blob(record.object, record.id, field);
    if (!item || item.size <= MULTIPART_FROM) continue;
    if (item.size > maxBlob(record.object)) throw new BlobTooLarge(field, item.size, maxBlob(record.object));
    return { field, item };
  }
  return undefined;
}

interface Answer {
  id?: string;
  success: boolean;
  errors?: { statusCode?: string; message?: string }[];
}

/**
 * One record created with its blob as Salesforce's multipart form: the fields as JSON in a part
 * named entity_content (ContentVersion) or entity_<object>, then the content, streamed from the
 * backup. jsforce buffers request bodies, so this one goes through fetch with the session's token;
 * a refused session is renewed by one jsforce call and the upload sent again.
 */
export async function createMultipart(
  api: SalesforceApi,
  record: SourceRecord,
  values: Record<string, unknown>,
  blob: { field: string; item: RestoreItem },
  signal: AbortSignal,
): Promise<Answer> {
  const boundary = `holdfast-${randomUUID()}`;
  const entity = record.object === 'ContentVersion' ? 'entity_content' : `entity_${record.object.toLowerCase()}`;
  const fileName = String(values.PathOnClient ?? values.Name ?? record.id).replace(/["\r\n]/g, '_');
  const head = Buffer.from(
    `--${boundary}\r\nContent-Disposition: form-data; name="${entity}"\r\nContent-Type: application/json\r\n\r\n${JSON.stringify(values)}\r\n` +
      `--${boundary}\r\nContent-Disposition: form-data; name="${blob.field}"; filename="${fileName}"\r\nContent-Type: application/octet-stream\r\n\r\n`,
  );
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
  const send = async (): Promise<Response> => {
    const { conn } = api;
    async function* body() {
      yield head;
      for await (const chunk of blob.item.content()) yield chunk as Uint8Array;
      yield tail;
    }
    return fetch(`${conn.instanceUrl}/services/data/v${conn.version}/sobjects/${record.object}/`, {
      method: 'POST',
      headers: {
        Authorization: `Bearer ${conn.accessToken}`,
        'Content-Type': `multipart/form-data; boundary=${boundary}`,
        'Content-Length': String(head.length + blob.item.size + tail.length),
      },
      body: body() as unknown as RequestInit['body'],
      duplex: 'half',
      signal,
    } as RequestInit);
  };
  const what = `uploading ${record.object} ${blob.field} of ${record.id} (${blob.item.size} bytes)`;
  let res = await api.call(what, async () => check(await send()), signal);
  if (res.status === 401) {
    // The token expired: one jsforce call renews it (its refresh), then the upload goes again.
    await api.call('renewing the session', () => api.conn.request('/limits'), signal);
    res = await api.call(what, async () => check(await send()), signal);
  }
  const answer = (await res.json().catch(() => undefined)) as unknown;
  if (res.ok) return answer as Answer;
  const errors = Array.isArray(answer) ? (answer as { errorCode?: string; message?: string }[]) : [];
  return {
    success: false,
    errors: errors.length
      ? errors.map((e) => ({ statusCode: e.errorCode ?? 'UNKNOWN', message: e.message ?? '' }))
      : [{ statusCode: `HTTP_${res.status}`, message: res.statusText }],
  };
}

/** 5xx and throttling as jsforce reports them, so the call is retried like any other. */
function check(res: Response): Response {
  if (res.status >= 500 || res.status === 429) {
    throw Object.assign(new Error(`HTTP ${res.status} ${res.statusText}`), { errorCode: `ERROR_HTTP_${res.status}` });
  }
  return res;
}
