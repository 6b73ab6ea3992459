// The stand-in's org: objects with typed fields, records with the system fields every Salesforce
// record has (Id, IsDeleted, CreatedDate, CreatedById, LastModifiedDate, LastModifiedById,
// SystemModstamp), deletes that go to the recycle bin (queryAll and getDeleted still see them,
// master-detail children go with their parent), and files (ContentDocument / ContentVersion
// with their bytes). Tests change the org through these methods, and so do the REST writes
// (writes.ts).
import { createHash } from 'node:crypto';

export type FieldType =
  | 'id'
  | 'string'
  | 'textarea'
  | 'email'
  | 'phone'
  | 'url'
  | 'picklist'
  | 'boolean'
  | 'int'
  | 'double'
  | 'currency'
  | 'percent'
  | 'date'
  | 'datetime'
  | 'reference'
  | 'base64';

export interface FieldDef {
  name: string;
  type: FieldType;
  label?: string;
  referenceTo?: string[];
  relationshipName?: string;
  /** Master-detail: deleting the parent deletes the child. */
  cascadeDelete?: boolean;
  custom?: boolean;
  /** An insert must give it (describe: nillable false); master-detail fields always are. */
  required?: boolean;
  /** Neither createable nor updateable (a roll-up, an auto number). */
  readOnly?: boolean;
  /** A formula (describe: calculated, neither createable nor updateable). */
  formula?: boolean;
  /** Marked External ID (describe: externalId, idLookup). */
  externalId?: boolean;
  /** No two live records may hold the same value (describe: unique; writes: DUPLICATE_VALUE). */
  unique?: boolean;
}

export interface ObjectOptions {
  label?: string;
  custom?: boolean;
  queryable?: boolean;
  replicateable?: boolean;
  retrieveable?: boolean;
  keyPrefix?: string;
  /** Without a Name field (ContentVersion has Title, Case has Subject). */
  noName?: boolean;
  /** Queryable only with a filter on one id (ContentDocumentLink: "Implementation restriction"). */
  filterRequired?: boolean;
}

export type FieldValue = string | number | boolean | null;
export type RecordValues = Record<string, FieldValue>;

export interface StoredRecord {
  values: RecordValues;
  deletedAt?: Date;
}

export class ApiError extends Error {
  readonly status: number;
  readonly body: unknown;
  readonly headers: Record<string, string>;
  constructor(status: number, body: unknown, headers: Record<string, string> = {}) {
    super(typeof body === 'string' ? body : JSON.stringify(body));
    this.status = status;
    this.body = body;
    this.headers = headers;
  }
}

/** An error as the REST API sends it: `[{"message", "errorCode"}]`. */
export function restError(status: number, errorCode: string, message: string): ApiError {
  return new ApiError(status, [{ message, errorCode }]);
}

const SYSTEM_FIELDS: FieldDef[] = [
  { name: 'Id', type: 'id' },
  { name: 'IsDeleted', type: 'boolean' },
  { name: 'CreatedDate', type: 'datetime' },
  { name: 'CreatedById', type: 'reference', referenceTo: ['User'], relationshipName: 'CreatedBy' },
  { name: 'LastModifiedDate', type: 'datetime' },
  { name: 'LastModifiedById', type: 'reference', referenceTo: ['User'], relationshipName: 'LastModifiedBy' },
  { name: 'SystemModstamp', type: 'datetime' },
];

/**
 * Salesforce's datetime form in API answers: 2026-12-07T03:00:00.000+0000. Date-time fields are
 * kept to the second (the API's documented precision): milliseconds sent are dropped.
 */
export function sfDateTime(d: Date): string {
  return `${d.toISOString().slice(0, 19)}.000+0000`;
}

/** A value as the org keeps it: a date-time to the second, in the form the API answers, whatever form was sent. */
function kept(f: FieldDef, value: FieldValue): FieldValue {
  if (f.type !== 'datetime' || typeof value !== 'string') return value;
  const time = parseDateTime(value);
  return Number.isNaN(time) ? value : sfDateTime(new Date(time));
}

/** The instant of a date-time as the API takes it (…Z, …+0000, …+02:00, with or without ms), or NaN. */
export function parseDateTime(raw: string): number {
  const m = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,3})?(?:Z|[+-]\d{2}:?\d{2})$/.exec(raw);
  return m ? Date.parse(raw.replace(/([+-]\d{2})(\d{2})$/, '$1:$2')) : Number.NaN;
}

export class SObject {
  readonly name: string;
  readonly label: string;
  readonly custom: boolean;
  readonly queryable: boolean;
  readonly replicateable: boolean;
  readonly retrieveable: boolean;
  readonly keyPrefix: string;
  readonly filterRequired: boolean;
  readonly fields: FieldDef[];
  readonly records = new Map<string, StoredRecord>();
  /** The delete log getDeleted reads: rows gone for good (purged, hard-deleted) by id. */
  readonly deleteLog = new Map<string, Date>();
  /** When the describe last changed (If-Modified-Since). */
  describedAt = new Date(0);

  constructor(name: string, fields: FieldDef[], options: ObjectOptions, keyPrefix: string) {
    this.name = name;
    this.label = options.label ?? name.replace(/__c$/, '').replace(/_/g, ' ');
    this.custom = options.custom ?? name.endsWith('__c');
    this.queryable = options.queryable ?? true;
    this.replicateable = options.replicateable ?? this.queryable;
    this.retrieveable = options.retrieveable ?? this.queryable;
    this.keyPrefix = options.keyPrefix ?? keyPrefix;
    this.filterRequired = options.filterRequired ?? false;
    const own =
      options.noName || fields.some((f) => f.name === 'Name')
        ? []
        : [{ name: 'Name', type: 'string' as const, required: true }];
    this.fields = [...SYSTEM_FIELDS, ...own, ...fields];
  }

  field(name: string): FieldDef | undefined {
    const lower = name.toLowerCase();
    return this.fields.find((f) => f.name.toLowerCase() === lower);
  }
}

export interface FileVersion {
  id: string;
  documentId: string;
  bytes: Buffer;
}

export class Org {
  readonly id: string;
  readonly name: string;
  readonly objects = new Map<string, SObject>();
  /** ContentVersion bytes by version id. */
  readonly blobs = new Map<string, Buffer>();
  /** Users by username (the JWT bearer flow's `sub`); the first is the admin who connects. */
  readonly users = new Map<string, string>();
  /** The daily API budget (DailyApiRequests): every REST call counts, refused past `max`. */
  readonly api = { max: 100_000, used: 0 };
  /** The org's clock; tests may replace it. */
  now: () => Date = () => new Date();
  /**
   * Runs before a record is stored, on the record as it will be (automation.ts: active triggers
   * and flows change it, active validation rules throw). Every write goes through it, as DML does.
   */
  beforeWrite: ((object: SObject, values: RecordValues, op: 'insert' | 'update') => void) | undefined;
  /** When any object's describe last changed (describeGlobal's If-Modified-Since). */
  describedAt = new Date(0);
  #seq = 0;
  #prefixSeq = 0;

  constructor(id: string, name: string) {
    this.id = id;
    this.name = name;
    this.addUser('admin@stand-in.example');
    this.defineObject('User', [{ name: 'Username', type: 'string' }], { keyPrefix: '005' });
    this.defineObject('ContentDocument', [{ name: 'Title', type: 'string' }], { keyPrefix: '069', noName: true });
    this.defineObject(
      'ContentVersion',
      [
        { name: 'Title', type: 'string' },
        { name: 'PathOnClient', type: 'string' },
        // Salesforce computes these from the content: not createable.
        { name: 'FileExtension', type: 'string', readOnly: true },
        { name: 'ContentSize', type: 'int', readOnly: true },
        { name: 'Checksum', type: 'string', readOnly: true },
        { name: 'VersionNumber', type: 'string', readOnly: true },
        { name: 'IsLatest', type: 'boolean', readOnly: true },
        // The record a new file is published to: its insert links the file there (polymorphic).
        {
          name: 'FirstPublishLocationId',
          type: 'reference',
          referenceTo: ['Account', 'Contact', 'Opportunity', 'Case', 'User'],
          relationshipName: 'FirstPublishLocation',
        },
        {
          name: 'ContentDocumentId',
          type: 'reference',
          referenceTo: ['ContentDocument'],
          relationshipName: 'ContentDocument',
        },
        { name: 'VersionData', type: 'base64' },
      ],
      { keyPrefix: '068', noName: true },
    );
  }

  addUser(username: string): string {
    const id = `005${String(this.users.size + 1).padStart(12, '0')}AAA`;
    this.users.set(username, id);
    return id;
  }

  get adminId(): string {
    return this.users.values().next().value as string;
  }

  defineObject(name: string, fields: FieldDef[], options: ObjectOptions = {}): SObject {
    if (this.objects.has(name.toLowerCase())) throw new Error(`object ${name} exists`);
    const prefix = `a${(this.#prefixSeq++).toString(36).padStart(2, '0')}`;
    const object = new SObject(name, fields, options, prefix);
    this.objects.set(name.toLowerCase(), object);
    this.#described(object);
    return object;
  }

  object(name: string): SObject | undefined {
    return this.objects.get(name.toLowerCase());
  }

  #mustObject(name: string): SObject {
    const o = this.object(name);
    if (!o) throw new Error(`no object ${name}`);
    return o;
  }

  /** Adds a field to an object (its describe changes; existing records have it null). */
  addField(objectName: string, field: FieldDef): void {
    const object = this.#mustObject(objectName);
    object.fields.push(field);
    this.#described(object);
  }

  #described(object: SObject): void {
    object.describedAt = this.now();
    this.describedAt = object.describedAt;
  }

  insert(objectName: string, values: RecordValues = {}): string {
    const object = this.#mustObject(objectName);
    const now = sfDateTime(this.now());
    const id = `${object.keyPrefix}${this.id.slice(-5, -3)}${String(++this.#seq).padStart(10, '0')}AAA`;
    const record: RecordValues = {};
    for (const f of object.fields) record[f.name] = null;
    for (const [k, v] of Object.entries(values)) {
      const f = object.field(k);
      if (!f) throw new Error(`no field ${k} on ${objectName}`);
      record[f.name] = kept(f, v);
    }
    Object.assign(record, {
      Id: id,
      IsDeleted: false,
      CreatedDate: now,
      CreatedById: this.adminId,
      LastModifiedDate: now,
      LastModifiedById: this.adminId,
      SystemModstamp: now,
    });
    this.beforeWrite?.(object, record, 'insert');
    object.records.set(id, { values: record });
    return id;
  }

  update(objectName: string, id: string, values: RecordValues): void {
    const object = this.#mustObject(objectName);
    const stored = object.records.get(id);
    if (!stored || stored.deletedAt) throw new Error(`no live record ${id}`);
    const next = { ...stored.values };
    for (const [k, v] of Object.entries(values)) {
      const f = object.field(k);
      if (!f) throw new Error(`no field ${k} on ${objectName}`);
      next[f.name] = kept(f, v);
    }
    const now = sfDateTime(this.now());
    next.LastModifiedDate = now;
    next.SystemModstamp = now;
    this.beforeWrite?.(object, next, 'update');
    Object.assign(stored.values, next);
  }

  /**
   * To the recycle bin, with master-detail children. `by` (a user id) is who deleted it: as in
   * Salesforce, the row's LastModifiedById and LastModifiedDate then name the deletion.
   */
  delete(objectName: string, id: string, by?: string): void {
    const object = this.#mustObject(objectName);
    const stored = object.records.get(id);
    if (!stored || stored.deletedAt) throw new Error(`no live record ${id}`);
    const now = this.now();
    stored.deletedAt = now;
    stored.values.IsDeleted = true;
    stored.values.SystemModstamp = sfDateTime(now);
    if (by) {
      stored.values.LastModifiedById = by;
      stored.values.LastModifiedDate = sfDateTime(now);
    }
    for (const child of this.objects.values()) {
      for (const f of child.fields) {
        if (!f.cascadeDelete || !f.referenceTo?.some((r) => r.toLowerCase() === object.name.toLowerCase())) continue;
        for (const [childId, rec] of child.records) {
          if (!rec.deletedAt && rec.values[f.name] === id) this.delete(child.name, childId, by);
        }
      }
    }
  }

  /**
   * Gone for good (emptied recycle bin, or a hard delete of a live row): not even queryAll sees
   * it; getDeleted still lists it (the delete log), with the time it was first deleted.
   */
  purge(objectName: string, id: string): void {
    const object = this.#mustObject(objectName);
    const stored = object.records.get(id);
    if (!stored) return;
    object.records.delete(id);
    object.deleteLog.set(id, stored.deletedAt ?? this.now());
  }

  /** A new file: a ContentDocument with its first ContentVersion. Returns both ids. */
  addFile(title: string, bytes: Buffer | string, extension = 'txt'): { documentId: string; versionId: string } {
    const documentId = this.insert('ContentDocument', { Title: title });
    const versionId = this.addFileVersion(documentId, bytes, `${title}.${extension}`);
    return { documentId, versionId };
  }

  /** A new version of a file: the previous one is no longer the latest. */
  addFileVersion(documentId: string, bytes: Buffer | string, pathOnClient?: string): string {
    const data = Buffer.from(bytes);
    const versions = this.#mustObject('ContentVersion');
    let number = 1;
    let path = pathOnClient;
    for (const [vid, v] of versions.records) {
      if (v.values.ContentDocumentId !== documentId || v.deletedAt) continue;
      number++;
      path ??= v.values.PathOnClient as string;
      if (v.values.IsLatest) this.update('ContentVersion', vid, { IsLatest: false });
    }
    const doc = this.#mustObject('ContentDocument').records.get(documentId);
    const title = String(doc?.values.Title ?? 'file');
    path ??= title;
    const versionId = this.insert('ContentVersion', {
      Title: title,
      PathOnClient: path,
      FileExtension: path.includes('.') ? (path.split('.').pop() as string) : null,
      ContentSize: data.length,
      Checksum: createHash('md5').update(data).digest('hex'),
      VersionNumber: String(number),
      IsLatest: true,
      ContentDocumentId: documentId,
    });
    this.blobs.set(versionId, data);
    return versionId;
  }

  /** Live records of an object (tests). */
  liveIds(objectName: string): string[] {
    return [...this.#mustObject(objectName).records].filter(([, r]) => !r.deletedAt).map(([id]) => id);
  }
}
