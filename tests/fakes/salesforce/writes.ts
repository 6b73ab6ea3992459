// Record writes at the stand-in, as jsforce sends them: REST sObject create (POST
// /sobjects/<Type>), update (PATCH /sobjects/<Type>/<id>), delete (DELETE …/<id>), and sObject
// Collections (/composite/sobjects: POST create and PATCH update of up to 200 records, DELETE
// ?ids=…), with `allOrNone`. Validated as Salesforce does: unknown fields (INVALID_FIELD), fields
// the describe says are not createable / updateable (INVALID_FIELD_FOR_INSERT_UPDATE), required
// fields (REQUIRED_FIELD_MISSING), lookups to ids that do not exist or name another object
// (INVALID_CROSS_REFERENCE_KEY) or to records in the recycle bin (ENTITY_IS_DELETED). New
// records get ids with the object's key prefix; every write moves SystemModstamp, so the next
// backup sees it. Blob fields (Attachment Body, VersionData) come base64 in the JSON body and are
// stored apart (`org.blobs`); a ContentVersion insert needs PathOnClient and VersionData, makes a
// new ContentDocument (or a new version of ContentDocumentId) and links a new file to its
// FirstPublishLocationId with a ContentDocumentLink. The server counts each call against the org's API budget like a read.
import { ApiError, type FieldDef, type FieldValue, type Org, type RecordValues, restError } from './model.ts';

/** The system fields Salesforce sets itself. */
const SYSTEM = new Set([
  'Id',
  'IsDeleted',
  'CreatedDate',
  'CreatedById',
  'LastModifiedDate',
  'LastModifiedById',
  'SystemModstamp',
]);

/** Collections take at most this many records a call. */
export const COLLECTION_MAX = 200;

export function isRequired(f: FieldDef): boolean {
  return !!(f.required || f.cascadeDelete);
}

export function isCreateable(f: FieldDef): boolean {
  return !SYSTEM.has(f.name) && !f.readOnly && !f.formula;
}

/** Master-detail fields cannot be reparented (Salesforce's default). */
export function isUpdateable(f: FieldDef): boolean {
  return isCreateable(f) && !f.cascadeDelete;
}

export interface SaveError {
  statusCode: string;
  message: string;
  fields: string[];
}

export interface SaveResult {
  id?: string;
  success: boolean;
  errors: SaveError[];
}

export interface WriteAnswer {
  status: number;
  body?: unknown;
}

/** Answers a write, or undefined when the request is not one (the server goes on). */
export function writeRecords(
  method: string,
  resource: string,
  url: URL,
  org: Org,
  body: Buffer,
  contentType = '',
): WriteAnswer | undefined {
  if (resource === '/composite/sobjects') return collection(method, url, org, body);
  const m = /^\/sobjects\/(\w+)(?:\/(\w+))?$/.exec(resource);
  if (!m || method === 'GET') return undefined;
  const [, type, id] = m as unknown as [string, string, string | undefined];
  if (!id && method === 'POST') {
    const values = contentType.startsWith('multipart/form-data')
      ? multipart(type, contentType, body)
      : (json(body) as RecordValues);
    const result = create(org, type, values);
    if (!result.success) throw errorsOf(result);
    return { status: 201, body: result };
  }
  if (id && id !== 'describe' && (method === 'PATCH' || method === 'DELETE')) {
    const result = method === 'PATCH' ? update(org, type, id, json(body) as RecordValues) : remove(org, type, id);
    if (!result.success) throw errorsOf(result, 404);
    return { status: 204 };
  }
  return undefined;
}

function collection(method: string, url: URL, org: Org, body: Buffer): WriteAnswer {
  if (method === 'DELETE') {
    const ids = (url.searchParams.get('ids') ?? '').split(',').filter(Boolean);
    tooMany(ids.length);
    const allOrNone = url.searchParams.get('allOrNone') === 'true';
    return { status: 200, body: apply(ids, allOrNone, (id, dry) => remove(org, objectOf(org, id) ?? '', id, dry)) };
  }
  if (method !== 'POST' && method !== 'PATCH') {
    throw restError(405, 'METHOD_NOT_ALLOWED', `HTTP Method '${method}' not allowed. Allowed are POST, PATCH, DELETE`);
  }
  const input = json(body) as { allOrNone?: boolean; records?: (RecordValues & { attributes?: { type?: string } })[] };
  const records = Array.isArray(input.records) ? input.records : [];
  tooMany(records.length);
  const results = apply(records, input.allOrNone === true, (r, dry) => {
    const { attributes, ...values } = r;
    const type = attributes?.type;
    if (!type) return failed('INVALID_TYPE', 'Must send a concrete entity type.');
    if (method === 'POST') {
      if (values.id !== undefined || values.Id !== undefined) {
        return failed('INVALID_FIELD', 'cannot specify Id in an insert call', ['Id']);
      }
      return create(org, type, values, dry);
    }
    const { id, Id, ...rest } = values;
    const target = String(id ?? Id ?? '');
    if (!target) return failed('MISSING_ARGUMENT', 'Id not specified in an update call', ['Id']);
    return update(org, type, target, rest, dry);
  });
  return { status: 200, body: results };
}

/**
 * A blob insert as a multipart form (Salesforce's "Insert or Update Blob Data"): the record's
 * fields as JSON in a part named entity_content (ContentVersion) or entity_<object>, then the
 * bytes in a part named by the blob field. Returns the record with the blob base64, as a JSON
 * insert would carry it.
 */
function multipart(type: string, contentType: string, body: Buffer): RecordValues {
  const boundary = /boundary="?([^";]+)"?/.exec(contentType)?.[1];
  const bad = (message: string) => restError(400, 'INVALID_MULTIPART_REQUEST', message);
  if (!boundary) throw bad('The multipart request has no boundary.');
  const entity = type.toLowerCase() === 'contentversion' ? 'entity_content' : `entity_${type.toLowerCase()}`;
  const delimiter = Buffer.from(`--${boundary}`);
  const parts: { name: string; data: Buffer }[] = [];
  let at = body.indexOf(delimiter);
  while (at >= 0) {
    const start = at + delimiter.length;
    if (body.subarray(start, start + 2).toString() === '--') break;
    const next = body.indexOf(Buffer.concat([Buffer.from('\r\n'), delimiter]), start);
    if (next < 0) throw bad('The multipart request is not terminated.');
    const part = body.subarray(start + 2, next);
    const split = part.indexOf('\r\n\r\n');
    const head = part.subarray(0, split).toString();
    const name = /name="([^"]+)"/.exec(head)?.[1] ?? '';
    parts.push({ name, data: part.subarray(split + 4) });
    at = next + 2;
  }
  const [first, ...files] = parts;
  if (first?.name !== entity) throw bad(`The first part must be ${entity}, the record's fields as JSON.`);
  const values = json(first.data) as RecordValues;
  for (const f of files) values[f.name] = f.data.toString('base64');
  return values;
}

function tooMany(n: number): void {
  if (n > COLLECTION_MAX) {
    throw restError(
      400,
      'EXCEEDED_ID_LIMIT',
      `record limit reached. cannot submit more than ${COLLECTION_MAX} records into this call`,
    );
  }
}

/**
 * Each write in turn. With allOrNone, every one is checked first (a dry run) and nothing is
 * written when one fails: the others report the rollback.
 */
function apply<T>(inputs: T[], allOrNone: boolean, write: (input: T, dry: boolean) => SaveResult): SaveResult[] {
  if (allOrNone) {
    const checked = inputs.map((input) => write(input, true));
    if (checked.some((r) => !r.success)) {
      return checked.map((r) =>
        r.success
          ? failed(
              'ALL_OR_NONE_OPERATION_ROLLED_BACK',
              'Record rolled back because not all records were valid and the request was using AllOrNone header',
            )
          : r,
      );
    }
  }
  return inputs.map((input) => write(input, false));
}

function failed(statusCode: string, message: string, fields: string[] = []): SaveResult {
  return { success: false, errors: [{ statusCode, message, fields }] };
}

function errorsOf(result: SaveResult, status = 400): ApiError {
  return new ApiError(
    status,
    result.errors.map((e) => ({ message: e.message, errorCode: e.statusCode, fields: e.fields })),
  );
}

function json(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString() || '{}');
  } catch {
    throw restError(400, 'JSON_PARSER_ERROR', 'The request body is not valid JSON.');
  }
}

/** The object an id belongs to, by its key prefix (users are the org's user list). */
export function objectOf(org: Org, id: string): string | undefined {
  if ([...org.users.values()].includes(id)) return 'User';
  for (const o of org.objects.values()) if (o.records.has(id)) return o.name;
  return undefined;
}

/** Why the values cannot be written to the object, or undefined. */
function invalid(
  org: Org,
  type: string,
  values: RecordValues,
  insert: boolean,
  /** The record updated (its own value is no duplicate). */
  id?: string,
): SaveResult | undefined {
  const object = org.object(type);
  if (!object) return failed('INVALID_TYPE', `sObject type '${type}' is not supported.`);
  const readOnly: string[] = [];
  for (const name of Object.keys(values)) {
    const f = object.field(name);
    if (!f) return failed('INVALID_FIELD', `No such column '${name}' on sobject of type ${object.name}`, [name]);
    if (insert ? !isCreateable(f) : !isUpdateable(f)) readOnly.push(f.name);
  }
  if (readOnly.length) {
    return failed(
      'INVALID_FIELD_FOR_INSERT_UPDATE',
      `Unable to create/update fields: ${readOnly.join(', ')}. Please check the security settings of this field and verify that it is read/write for your profile or permission set.`,
      readOnly,
    );
  }
  if (insert) {
    const missing = object.fields.filter((f) => isRequired(f) && !present(values, f.name)).map((f) => f.name);
    if (missing.length) {
      return failed('REQUIRED_FIELD_MISSING', `Required fields are missing: [${missing.join(', ')}]`, missing);
    }
  } else {
    const cleared = object.fields.filter((f) => isRequired(f) && f.name in values && values[f.name] === null);
    if (cleared.length) {
      const names = cleared.map((f) => f.name);
      return failed('REQUIRED_FIELD_MISSING', `Required fields are missing: [${names.join(', ')}]`, names);
    }
  }
  for (const [name, value] of Object.entries(values)) {
    const f = object.field(name) as FieldDef;
    if (!f.unique || value === null || value === '') continue;
    const text = String(value).toLowerCase();
    for (const [otherId, other] of object.records) {
      if (otherId === id || other.deletedAt || String(other.values[f.name] ?? '').toLowerCase() !== text) continue;
      return failed(
        'DUPLICATE_VALUE',
        `duplicate value found: ${f.name} duplicates value on record with id: ${otherId}`,
        [f.name],
      );
    }
  }
  for (const [name, value] of Object.entries(values)) {
    const f = object.field(name) as FieldDef;
    if (f.type !== 'reference' || value === null || value === '') continue;
    const problem = badReference(org, f, String(value));
    if (problem) return problem;
  }
  return undefined;
}

function present(values: RecordValues, name: string): boolean {
  const key = Object.keys(values).find((k) => k.toLowerCase() === name.toLowerCase());
  const v = key === undefined ? undefined : values[key];
  return v !== undefined && v !== null && v !== '';
}

function badReference(org: Org, f: FieldDef, id: string): SaveResult | undefined {
  const target = objectOf(org, id);
  const allowed = (f.referenceTo ?? []).map((r) => r.toLowerCase());
  if (!target || !allowed.includes(target.toLowerCase())) {
    return failed('INVALID_CROSS_REFERENCE_KEY', `invalid cross reference id`, [f.name]);
  }
  if (org.object(target)?.records.get(id)?.deletedAt) {
    return failed('ENTITY_IS_DELETED', 'entity is deleted', [f.name]);
  }
  return undefined;
}

function normalise(org: Org, type: string, values: RecordValues): RecordValues {
  const object = org.object(type);
  const out: RecordValues = {};
  for (const [k, v] of Object.entries(values)) {
    const f = object?.field(k);
    if (f) out[f.name] = (v === '' ? null : v) as FieldValue;
  }
  return out;
}

function create(org: Org, type: string, values: RecordValues, dry = false): SaveResult {
  const problem = invalid(org, type, values, true);
  if (problem) return problem;
  // Blob fields (base64 in the JSON body) are kept apart from the record, as Salesforce does.
  const blobs = new Map<string, Buffer>();
  const rest: RecordValues = {};
  for (const [k, v] of Object.entries(values)) {
    const f = org.object(type)?.field(k);
    if (f?.type !== 'base64' || v === null) {
      rest[k] = v;
      continue;
    }
    if (typeof v !== 'string' || !/^[A-Za-z0-9+/\r\n]*={0,2}$/.test(v)) {
      return failed('INVALID_FIELD', `${f.name}: the value is not base64`, [f.name]);
    }
    blobs.set(f.name, Buffer.from(v, 'base64'));
  }
  const isFile = org.object(type)?.name === 'ContentVersion';
  if (isFile) {
    const missing = ['PathOnClient', 'VersionData'].filter((n) => !present(values, n));
    if (missing.length)
      return failed('REQUIRED_FIELD_MISSING', `Required fields are missing: [${missing.join(', ')}]`, missing);
  }
  if (dry) return { success: true, errors: [] };
  if (isFile)
    return {
      id: createFile(org, normalise(org, type, rest), blobs.get('VersionData') as Buffer),
      success: true,
      errors: [],
    };
  const id = org.insert(type, normalise(org, type, rest));
  // One blob field an object (Attachment / Document Body): the bytes by record id.
  for (const bytes of blobs.values()) org.blobs.set(id, bytes);
  return { id, success: true, errors: [] };
}

/**
 * A ContentVersion insert: a new version of ContentDocumentId, or else a new ContentDocument;
 * Salesforce computes size, checksum and version number, and links a new file to its
 * FirstPublishLocationId (a ContentDocumentLink, where the org has that object).
 */
function createFile(org: Org, values: RecordValues, bytes: Buffer): string {
  const { ContentDocumentId, PathOnClient, FirstPublishLocationId, ...rest } = values;
  const documentId = ContentDocumentId
    ? String(ContentDocumentId)
    : org.insert('ContentDocument', { Title: (rest.Title as string | null) ?? String(PathOnClient) });
  const versionId = org.addFileVersion(documentId, bytes, String(PathOnClient));
  org.update('ContentVersion', versionId, { ...rest, FirstPublishLocationId: FirstPublishLocationId ?? null });
  if (!ContentDocumentId && FirstPublishLocationId && org.object('ContentDocumentLink')) {
    org.insert('ContentDocumentLink', { ContentDocumentId: documentId, LinkedEntityId: FirstPublishLocationId });
  }
  return versionId;
}

function update(org: Org, type: string, id: string, values: RecordValues, dry = false): SaveResult {
  const object = org.object(type);
  const stored = object?.records.get(id);
  if (!object || !stored) return { ...failed('INVALID_CROSS_REFERENCE_KEY', 'invalid cross reference id'), id };
  if (stored.deletedAt) return { ...failed('ENTITY_IS_DELETED', 'entity is deleted'), id };
  const problem = invalid(org, type, values, false, id);
  if (problem) return { ...problem, id };
  if (dry) return { id, success: true, errors: [] };
  org.update(object.name, id, normalise(org, type, values));
  return { id, success: true, errors: [] };
}

function remove(org: Org, type: string, id: string, dry = false): SaveResult {
  const object = org.object(type);
  const stored = object?.records.get(id);
  if (!object || !stored) return { ...failed('INVALID_CROSS_REFERENCE_KEY', 'invalid cross reference id'), id };
  if (stored.deletedAt) return { ...failed('ENTITY_IS_DELETED', 'entity is deleted'), id };
  if (dry) return { id, success: true, errors: [] };
  org.delete(object.name, id);
  return { id, success: true, errors: [] };
}
