// Bulk API 2.0 ingest jobs of the stand-in (/services/data/vXX.X/jobs/ingest), as jsforce's
// `bulk2` drives them: create a job (insert, update, upsert, delete), PUT the CSV to
// `/<id>/batches`, PATCH `{state: "UploadComplete"}`, poll `GET /<id>` until JobComplete, then read
// `/<id>/successfulResults`, `/failedResults` and `/unprocessedrecords` (CSV). The rows are
// processed when the upload completes, each on its own: a row Salesforce would refuse becomes a
// failed row with Salesforce's error text (`CODE:message:fields --`) and the others are written.
// Checked as Salesforce does: columns that are not fields fail the job ("InvalidBatch : Field name
// not found"); on create, required fields present and every column createable (on update,
// updateable); values of their type; lookups naming an existing record of a referenced object.
// A finished job's successful and failed rows are written to files in a folder of the stand-in's
// own (Salesforce keeps them for days; a large restore's would otherwise stay in memory) and read
// from there when asked for; the upload itself is dropped once processed.
import { appendFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { csvLine } from '../../../core/plugins/csv.ts';
import { parseCsv } from '../../helpers/csv.ts';
import {
  type FieldDef,
  type FieldValue,
  type Org,
  parseDateTime,
  restError,
  type SObject,
  sfDateTime,
} from './model.ts';

export type IngestOperation = 'insert' | 'update' | 'upsert' | 'delete';
const OPERATIONS: readonly string[] = ['insert', 'update', 'upsert', 'delete'];

/** Fields Salesforce sets itself: never createable or updateable through the API. */
const SYSTEM = new Set([
  'Id',
  'IsDeleted',
  'CreatedDate',
  'CreatedById',
  'LastModifiedDate',
  'LastModifiedById',
  'SystemModstamp',
]);

/**
 * Fields Salesforce requires on create for the stand-in's standard objects (their describe says
 * nillable: false, createable, not defaulted). Custom objects require their Name.
 */
const REQUIRED: Record<string, string[]> = {
  account: ['Name'],
  contact: ['LastName'],
  opportunity: ['Name', 'StageName', 'CloseDate'],
  contentversion: ['PathOnClient', 'Title'],
};

function requiredFields(object: SObject): string[] {
  const own = (REQUIRED[object.name.toLowerCase()] ?? []).filter((n) => object.field(n));
  const custom = object.custom && object.field('Name') ? ['Name'] : [];
  const flagged = object.fields.filter((f) => (f as FieldDef & { required?: boolean }).required).map((f) => f.name);
  return [...new Set([...own, ...custom, ...flagged])];
}

interface IngestJob {
  id: string;
  org: Org;
  object: SObject;
  operation: IngestOperation;
  externalIdFieldName: string | undefined;
  state: 'Open' | 'UploadComplete' | 'InProgress' | 'JobComplete' | 'Failed' | 'Aborted';
  csv: string | undefined;
  checks: number;
  createdById: string;
  createdDate: string;
  version: string;
  errorMessage: string | undefined;
  header: string[];
  /** Result files (`<id>.successful.csv`, `<id>.failed.csv`, header line first) in the spool folder. */
  results: { successful: string; failed: string } | undefined;
  processed: number;
  failedRows: number;
  unprocessed: string[][];
}

/** Salesforce's per-row error text in failedResults: `CODE:message:fields --`. */
function rowError(code: string, message: string, fields: string[] = []): string {
  return `${code}:${message}:${fields.join(',')} --`;
}

class RowError extends Error {
  readonly text: string;
  constructor(code: string, message: string, fields: string[] = []) {
    super(message);
    this.text = rowError(code, message, fields);
  }
}

const ID = /^[A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?$/;

export class BulkIngest {
  readonly #jobs = new Map<string, IngestJob>();
  #seq = 0;
  #folder: string | undefined;

  /** The folder of the finished jobs' result files (made with the first processed job). */
  resultsFolder(): string {
    this.#folder ??= mkdtempSync(join(tmpdir(), 'sf-ingest-results-'));
    return this.#folder;
  }

  /** Removes the result files (the stand-in stops). */
  close(): void {
    if (this.#folder) rmSync(this.#folder, { recursive: true, force: true });
    this.#folder = undefined;
  }
  /** Status checks an ingest job answers InProgress before JobComplete. */
  checksInProgress = 0;

  /** Answers one /jobs/ingest request: `path` is what follows `/jobs/ingest`. */
  handle(
    method: string,
    path: string,
    org: Org,
    userId: string,
    version: string,
    body: Buffer,
  ): { status: number; json?: unknown; csv?: string } {
    if (path === '' && method === 'POST') return { status: 200, json: this.#create(org, userId, version, body) };
    if (path === '' && method === 'GET') {
      return {
        status: 200,
        json: { done: true, records: [...this.#jobs.values()].filter((j) => j.org === org).map(info) },
      };
    }
    const m = /^\/(750\w+)(?:\/(batches|successfulResults|failedResults|unprocessedrecords))?$/.exec(path);
    const job = m ? this.#jobs.get(m[1] as string) : undefined;
    if (!m || !job || job.org !== org) throw restError(404, 'NOT_FOUND', 'The requested resource does not exist');
    const sub = m[2];
    if (sub === 'batches') {
      if (method !== 'PUT') throw restError(405, 'METHOD_NOT_ALLOWED', 'HTTP Method not allowed.');
      if (job.state !== 'Open') {
        throw restError(409, 'INVALIDJOBSTATE', `InvalidJobState : Job ${job.id} is not open for uploads.`);
      }
      if (job.csv !== undefined) {
        throw restError(400, 'INVALIDJOBSTATE', 'InvalidJobState : Data can only be uploaded to a job once.');
      }
      job.csv = body.toString('utf8');
      return { status: 201 };
    }
    if (sub) {
      if (method !== 'GET') throw restError(405, 'METHOD_NOT_ALLOWED', 'HTTP Method not allowed.');
      if (job.state !== 'JobComplete' && job.state !== 'Failed' && job.state !== 'Aborted') {
        throw restError(400, 'INVALIDJOBSTATE', `InvalidJobState : Job ${job.id} is not complete.`);
      }
      if (sub === 'successfulResults') {
        return {
          status: 200,
          csv: resultsOf(job, 'successful') ?? table(['sf__Id', 'sf__Created', ...job.header], []),
        };
      }
      if (sub === 'failedResults') {
        return { status: 200, csv: resultsOf(job, 'failed') ?? table(['sf__Id', 'sf__Error', ...job.header], []) };
      }
      return { status: 200, csv: table(job.header, job.unprocessed) };
    }
    if (method === 'GET') {
      if (job.state === 'UploadComplete' || job.state === 'InProgress') {
        job.state = job.checks++ < this.checksInProgress ? 'InProgress' : 'JobComplete';
      }
      return { status: 200, json: info(job) };
    }
    if (method === 'PATCH') {
      let input: { state?: string };
      try {
        input = JSON.parse(body.toString() || '{}');
      } catch {
        throw restError(400, 'JSON_PARSER_ERROR', 'The request body is not valid JSON.');
      }
      if (input.state === 'Aborted') {
        if (job.state === 'JobComplete' || job.state === 'Failed') {
          throw restError(400, 'INVALIDJOBSTATE', `InvalidJobState : Job ${job.id} is already complete.`);
        }
        job.state = 'Aborted';
        return { status: 200, json: info(job) };
      }
      if (input.state !== 'UploadComplete') {
        throw restError(400, 'INVALIDJOBSTATE', `InvalidJobState : Invalid state: ${input.state}`);
      }
      if (job.state !== 'Open') {
        throw restError(409, 'INVALIDJOBSTATE', `InvalidJobState : Job ${job.id} is not open.`);
      }
      job.state = 'UploadComplete';
      // Processed at once; the job still reports InProgress to `checksInProgress` polls.
      process(job, () => this.resultsFolder());
      return { status: 200, json: info(job) };
    }
    if (method === 'DELETE') {
      this.#jobs.delete(job.id);
      return { status: 204 };
    }
    throw restError(405, 'METHOD_NOT_ALLOWED', 'HTTP Method not allowed.');
  }

  #create(org: Org, userId: string, version: string, body: Buffer): Record<string, unknown> {
    let input: { object?: string; operation?: string; externalIdFieldName?: string; contentType?: string };
    try {
      input = JSON.parse(body.toString() || '{}');
    } catch {
      throw restError(400, 'JSON_PARSER_ERROR', 'The request body is not valid JSON.');
    }
    if (!input.operation || !OPERATIONS.includes(input.operation)) {
      throw restError(400, 'INVALIDJOB', `InvalidJob : Invalid operation: ${input.operation}`);
    }
    const object = org.object(input.object ?? '');
    if (!object?.queryable || object.filterRequired) {
      throw restError(400, 'INVALIDJOB', `InvalidJob : Entity '${input.object}' is not supported by the Bulk API.`);
    }
    if (input.contentType && input.contentType !== 'CSV') {
      throw restError(400, 'INVALIDJOB', `InvalidJob : Invalid content type: ${input.contentType}`);
    }
    let externalId: string | undefined;
    if (input.operation === 'upsert') {
      const field = object.field(input.externalIdFieldName ?? '');
      if (!field) {
        throw restError(
          400,
          'INVALIDJOB',
          `InvalidJob : External ID was blank for ${object.name}. An External ID must be specified for upsert.`,
        );
      }
      externalId = field.name;
    }
    const job: IngestJob = {
      id: `750${org.id.slice(-5, -3)}${String(++this.#seq).padStart(9, '0')}IAA`,
      org,
      object,
      operation: input.operation as IngestOperation,
      externalIdFieldName: externalId,
      state: 'Open',
      csv: undefined,
      checks: 0,
      createdById: userId,
      createdDate: sfDateTime(org.now()),
      version,
      errorMessage: undefined,
      header: [],
      results: undefined,
      processed: 0,
      failedRows: 0,
      unprocessed: [],
    };
    this.#jobs.set(job.id, job);
    return info(job);
  }
}

function info(job: IngestJob): Record<string, unknown> {
  const done = job.state === 'JobComplete' || job.state === 'Failed';
  return {
    id: job.id,
    operation: job.operation,
    object: job.object.name,
    createdById: job.createdById,
    createdDate: job.createdDate,
    systemModstamp: job.createdDate,
    state: job.state,
    ...(job.externalIdFieldName ? { externalIdFieldName: job.externalIdFieldName } : {}),
    concurrencyMode: 'Parallel',
    contentType: 'CSV',
    apiVersion: Number(job.version),
    jobType: 'V2Ingest',
    lineEnding: 'LF',
    columnDelimiter: 'COMMA',
    ...(done
      ? {
          numberRecordsProcessed: job.processed,
          numberRecordsFailed: job.failedRows,
          retries: 0,
          totalProcessingTime: 1,
        }
      : {}),
    ...(job.errorMessage ? { errorMessage: job.errorMessage } : {}),
  };
}

function table(header: string[], rows: string[][]): string {
  return [header, ...rows].map((r) => csvLine(r, { formulas: 'keep' })).join('');
}

function resultsOf(job: IngestJob, kind: 'successful' | 'failed'): string | undefined {
  return job.results ? readFileSync(job.results[kind], 'utf8') : undefined;
}

/** Appends CSV lines to a file a few hundred rows at a time. */
class ResultFile {
  readonly path: string;
  #lines: string[] = [];
  constructor(path: string, header: string[]) {
    this.path = path;
    appendFileSync(path, csvLine(header, { formulas: 'keep' }));
  }
  add(row: string[]): void {
    this.#lines.push(csvLine(row, { formulas: 'keep' }));
    if (this.#lines.length >= 500) this.flush();
  }
  flush(): void {
    if (this.#lines.length) appendFileSync(this.path, this.#lines.join(''));
    this.#lines = [];
  }
}

/** Processes every uploaded row into result files in `folder`; a job whose upload cannot be read at all ends Failed. */
function process(job: IngestJob, folder: () => string): void {
  const rows = parseCsv(job.csv ?? '');
  job.csv = undefined;
  const header = rows.shift() ?? [];
  job.header = header;
  const { object } = job;
  if (header.length === 0 || header.every((h) => h === '')) {
    job.state = 'Failed';
    job.errorMessage = 'InvalidBatch : The uploaded CSV has no header row.';
    return;
  }
  const unknown = header.find((h) => !object.field(h));
  if (unknown !== undefined) {
    job.state = 'Failed';
    job.errorMessage = `InvalidBatch : Field name not found : ${unknown}`;
    job.unprocessed = rows;
    return;
  }
  const fields = header.map((h) => object.field(h) as FieldDef);
  const successful = new ResultFile(join(folder(), `${job.id}.successful.csv`), ['sf__Id', 'sf__Created', ...header]);
  const failed = new ResultFile(join(folder(), `${job.id}.failed.csv`), ['sf__Id', 'sf__Error', ...header]);
  for (const row of rows) {
    if (row.length === 1 && row[0] === '') continue;
    job.processed++;
    try {
      const result = processRow(job, fields, row);
      successful.add([result.id, String(result.created), ...row]);
    } catch (err) {
      if (!(err instanceof RowError)) throw err;
      job.failedRows++;
      failed.add(['', err.text, ...row]);
    }
  }
  successful.flush();
  failed.flush();
  job.results = { successful: successful.path, failed: failed.path };
}

function processRow(job: IngestJob, fields: FieldDef[], row: string[]): { id: string; created: boolean } {
  const { object, org } = job;
  if (row.length !== fields.length) {
    throw new RowError('INVALID_FIELD', `The row has ${row.length} values; the header names ${fields.length} fields.`);
  }
  const given = new Map<string, string>();
  fields.forEach((f, i) => {
    given.set(f.name, row[i] as string);
  });
  const idOf = (value: string | undefined): string | undefined => {
    if (value === undefined || value === '') return undefined;
    if (!ID.test(value))
      throw new RowError('MALFORMED_ID', `${object.name} ID: id value of incorrect type: ${value}`, ['Id']);
    const rec =
      object.records.get(value) ??
      (value.length === 15
        ? [...object.records.values()].find((r) => String(r.values.Id).startsWith(value))
        : undefined);
    if (!rec) throw new RowError('INVALID_CROSS_REFERENCE_KEY', 'invalid cross reference id');
    if (rec.deletedAt) throw new RowError('ENTITY_IS_DELETED', 'entity is deleted');
    return rec.values.Id as string;
  };

  if (job.operation === 'delete') {
    const id = idOf(given.get('Id'));
    if (!id) throw new RowError('MISSING_ARGUMENT', 'Id not specified in a delete call');
    org.delete(object.name, id);
    return { id, created: false };
  }

  let existing: string | undefined;
  if (job.operation === 'update') {
    existing = idOf(given.get('Id'));
    if (!existing) throw new RowError('MISSING_ARGUMENT', 'Id not specified in an update call');
  } else if (job.operation === 'upsert') {
    const key = job.externalIdFieldName as string;
    const value = given.get(key);
    if (key === 'Id') existing = idOf(value);
    else if (value) {
      const matches = [...object.records.values()].filter((r) => !r.deletedAt && String(r.values[key] ?? '') === value);
      if (matches.length > 1) {
        throw new RowError(
          'DUPLICATE_EXTERNAL_ID',
          `${key}: more than one record found for external id field: ${value}`,
          [key],
        );
      }
      existing = matches[0]?.values.Id as string | undefined;
    }
  }
  const creating = existing === undefined;

  const values: Record<string, FieldValue> = {};
  const notWritable: string[] = [];
  for (const f of fields) {
    const raw = given.get(f.name) ?? '';
    if (f.name === 'Id') {
      if (creating && raw !== '' && job.operation === 'insert') notWritable.push(f.name);
      continue;
    }
    if (job.operation === 'upsert' && f.name === job.externalIdFieldName && !creating) continue;
    if (raw === '') continue;
    if (SYSTEM.has(f.name) || f.type === 'base64') {
      notWritable.push(f.name);
      continue;
    }
    values[f.name] = raw === '#N/A' ? null : typed(f, raw);
  }
  if (notWritable.length) {
    throw new RowError(
      'INVALID_FIELD_FOR_INSERT_UPDATE',
      `Unable to create/update fields: ${notWritable.join(', ')}. Please check the security settings of this field and verify that it is read/write for your profile or permission set.`,
      notWritable,
    );
  }
  if (creating) {
    const missing = requiredFields(object).filter(
      (n) => values[n] === undefined || values[n] === null || values[n] === '',
    );
    if (missing.length) {
      throw new RowError('REQUIRED_FIELD_MISSING', `Required fields are missing: [${missing.join(', ')}]`, missing);
    }
  } else {
    const cleared = requiredFields(object).filter((n) => values[n] === null);
    if (cleared.length) {
      throw new RowError('REQUIRED_FIELD_MISSING', `Required fields are missing: [${cleared.join(', ')}]`, cleared);
    }
  }
  for (const f of fields) {
    const value = values[f.name];
    if (f.type !== 'reference' || typeof value !== 'string') continue;
    checkReference(org, f, value);
  }
  if (creating) return { id: org.insert(object.name, values), created: true };
  org.update(object.name, existing as string, values);
  return { id: existing as string, created: false };
}

function checkReference(org: Org, field: FieldDef, value: string): void {
  const targets = (field.referenceTo ?? []).map((t) => org.object(t)).filter((o): o is SObject => !!o);
  const label = field.label ?? field.name;
  if (!ID.test(value)) {
    throw new RowError('MALFORMED_ID', `${label}: id value of incorrect type: ${value}`, [field.name]);
  }
  const target = targets.find((o) => value.startsWith(o.keyPrefix));
  if (!target) {
    throw new RowError('FIELD_INTEGRITY_EXCEPTION', `${label}: id value of incorrect type: ${value}`, [field.name]);
  }
  const rec = target.records.get(value);
  if (!rec || rec.deletedAt) {
    throw new RowError('INVALID_CROSS_REFERENCE_KEY', `invalid cross reference id`, [field.name]);
  }
}

/** A CSV cell as the field's value; one of the wrong form fails the row as Salesforce does. */
function typed(field: FieldDef, raw: string): FieldValue {
  const wrong = () =>
    new RowError(
      'INVALID_TYPE_ON_FIELD_IN_RECORD',
      `${field.label ?? field.name}: value not of required type: ${raw}`,
      [field.name],
    );
  switch (field.type) {
    case 'boolean': {
      const v = raw.toLowerCase();
      if (v === 'true' || v === '1') return true;
      if (v === 'false' || v === '0') return false;
      throw wrong();
    }
    case 'int': {
      if (!/^-?\d+$/.test(raw)) throw wrong();
      return Number(raw);
    }
    case 'double':
    case 'currency':
    case 'percent': {
      const n = Number(raw);
      if (raw.trim() === '' || !Number.isFinite(n)) throw wrong();
      return n;
    }
    case 'date': {
      if (!/^\d{4}-\d{2}-\d{2}$/.test(raw) || Number.isNaN(Date.parse(`${raw}T00:00:00Z`))) throw wrong();
      return raw;
    }
    case 'datetime': {
      const time = parseDateTime(raw);
      if (Number.isNaN(time)) throw wrong();
      return sfDateTime(new Date(time));
    }
    default:
      return raw;
  }
}
