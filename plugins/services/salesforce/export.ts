// A Salesforce export (seed 4.1.1.2): the chosen records of one object as one CSV with Data
// Loader's conventions, their files in a folder of their own, or a metadata type's components as a
// package zip that deploys as it is. Everything comes from the snapshot; nothing calls the org.
//
// - Records: `<Object>.csv`, one row per record. The header is every field API name the records
//   hold (describe order; a field only older records have comes after), so a first pass reads the
//   records for the header and a second writes the rows — memory holds the header, never the
//   rows. Lookups are the referenced record's Id; dates `YYYY-MM-DD`, datetimes
//   `YYYY-MM-DDThh:mm:ss.000Z` (UTC), booleans `true`/`false`, null as an empty cell; values are
//   written exactly (no spreadsheet defusing: Data Loader must read back what was backed up).
// - Deleted records (option): records earlier snapshots hold and the chosen one does not, in
//   `<Object> (deleted).csv` with the same header.
// - Files (ContentVersion VersionData, Attachment and Document Body): `<Object> files/<Id> <name>`,
//   the name from the record (PathOnClient, or the title and extension; Attachment's Name); the
//   CSV's blob column (VersionData, Body) holds that path, as Data Loader reads files to upload.
// - Metadata (option on): `<Type>.package.zip`: package.xml naming every component, and the
//   components in their folders as the Metadata API's retrieve gave them.
import { PassThrough, type Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { ZipFile } from 'yazl';
import { csvChunks } from '../../../core/plugins/csv.ts';
import type { ExportArchiveRun, ExportEntry, ExportItem } from '../../../core/plugins/service.ts';
import { METADATA_PREFIX } from './metadata.ts';
import { API_VERSION } from './session.ts';

/** REST's datetime form (…T08:00:00.000+0000) and Bulk API's (…Z): the backup stores the former. */
const DATETIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,3})?(?:Z|[+-]\d{2}:?\d{2})$/;

/** One field value as Data Loader writes it. */
export function dataLoaderValue(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : '';
  if (typeof value === 'string') {
    if (DATETIME.test(value)) {
      const time = Date.parse(value.replace(/([+-]\d{2})(\d{2})$/, '$1:$2'));
      if (!Number.isNaN(time)) return new Date(time).toISOString();
    }
    return value;
  }
  return JSON.stringify(value);
}

async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of stream) parts.push(Buffer.from(chunk as Uint8Array));
  return Buffer.concat(parts);
}

/** A record item's fields, or undefined when its content is damaged (the kernel names it). */
async function fieldsOf(item: ExportItem): Promise<Record<string, unknown> | undefined> {
  const content = await item.open();
  if (!content) return undefined;
  return JSON.parse((await readAll(content)).toString('utf8')) as Record<string, unknown>;
}

function isRecord(item: ExportItem): boolean {
  return item.kind === 'record';
}

/** Names a file system holds: no path separators or control characters. */
function safeName(name: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what we remove
  return name.replace(/[/\\\u0000-\u001f\u007f]+/g, '_').trim();
}

/** The file's name from its record: what the user uploaded it as. */
function fileName(object: string, record: Record<string, unknown> | undefined, fallback: string): string {
  const text = (v: unknown) => (typeof v === 'string' && v.trim() !== '' ? v.trim() : undefined);
  if (record) {
    if (object === 'ContentVersion') {
      const path = text(record.PathOnClient)?.split(/[\\/]/).pop();
      if (path) return path;
      const title = text(record.Title);
      const extension = text(record.FileExtension);
      if (title) return extension && !title.endsWith(`.${extension}`) ? `${title}.${extension}` : title;
    }
    if (object === 'Document') {
      const name = text(record.Name);
      const type = text(record.Type);
      if (name) return type && !name.endsWith(`.${type}`) ? `${name}.${type}` : name;
    }
    const name = text(record.Name) ?? text(record.Title);
    if (name) return name;
  }
  return fallback;
}

export async function* exportSalesforce(run: ExportArchiveRun): AsyncGenerator<ExportEntry> {
  if (run.entity.externalId.startsWith(METADATA_PREFIX)) {
    yield* exportMetadata(run);
    return;
  }
  yield* exportRecords(run);
}

async function* exportRecords(run: ExportArchiveRun): AsyncGenerator<ExportEntry> {
  const object = run.entity.externalId;
  const withDeleted = run.options.deletedRecords === true;

  // Pass 1: the header (every field any record holds, in the order first seen).
  run.step(`reading the ${object} fields`);
  const header: string[] = [];
  const known = new Set<string>();
  // Blob fields (VersionData, Body): a column holding the file's path in the export, as Data
  // Loader reads a file to upload from such a column.
  const blobs = new Set<string>(BLOB_FIELDS[object] ?? []);
  let records = 0;
  let deleted = 0;
  const collect = async (items: AsyncIterable<ExportItem>, live: boolean): Promise<number> => {
    let n = 0;
    for await (const item of items) {
      if (live && item.kind === 'file' && typeof item.meta?.field === 'string') blobs.add(item.meta.field);
      if (!isRecord(item)) continue;
      const fields = await fieldsOf(item);
      if (!fields) continue;
      n++;
      for (const name of Object.keys(fields)) {
        if (!known.has(name)) {
          known.add(name);
          header.push(name);
        }
      }
    }
    return n;
  };
  records = await collect(run.items(), true);
  if (withDeleted) deleted = await collect(run.deletedItems(), false);
  if (header.length === 0) header.push('Id');
  const blobColumns = [...blobs].filter((b) => !known.has(b));
  const columns = [...header, ...blobColumns];

  // Pass 2: the rows, streamed.
  const rows = async function* (items: AsyncIterable<ExportItem>, live: boolean): AsyncGenerator<string[]> {
    for await (const item of items) {
      if (!isRecord(item)) continue;
      const fields = await fieldsOf(item);
      if (!fields) continue;
      const row = header.map((name) => dataLoaderValue(fields[name]));
      for (const blob of blobColumns) {
        // A deleted record's file is named from its own item: left empty here.
        const file = live ? await run.item(`${item.key}/${blob}`) : undefined;
        row.push(file ? filePath(object, item.key, fields, labelOf(fields) ?? file.key) : '');
      }
      yield row;
    }
  };
  if (records > 0 || deleted === 0) {
    run.step(`writing ${records} ${object} records`);
    yield {
      path: `${object}.csv`,
      content: csvChunks({ header: columns, rows: rows(run.items(), true), formulas: 'keep' }),
    };
  }
  if (withDeleted && deleted > 0) {
    run.step(`writing ${deleted} deleted ${object} records`);
    yield {
      path: `${object} (deleted).csv`,
      content: csvChunks({ header: columns, rows: rows(run.deletedItems(), false), formulas: 'keep' }),
    };
  }

  // Pass 3: the files, named from their records (deleted ones from what their item says).
  const sources: [AsyncIterable<ExportItem>, string][] = [[run.items(), '']];
  if (withDeleted) sources.push([run.deletedItems(), ' (deleted)']);
  for (const [items, label] of sources) {
    for await (const item of items) {
      if (label === '' && isRecord(item) && blobColumns.length > 0) {
        // A record chosen without its file (an item-search hit): its file comes with it.
        for (const blob of blobColumns) {
          const file = await run.item(`${item.key}/${blob}`);
          if (!file || file.selected) continue;
          const content = await file.open();
          if (!content) continue;
          const fields = await fieldsOf(item);
          yield {
            path: filePath(object, item.key, fields, (fields && labelOf(fields)) ?? file.key),
            content: content as AsyncIterable<Uint8Array>,
            size: file.size,
          };
        }
        continue;
      }
      if (item.kind !== 'file') continue;
      const id = typeof item.meta?.record === 'string' ? item.meta.record : (item.key.split('/')[0] as string);
      const record = label === '' ? await recordOf(run, id) : undefined;
      const fallback = typeof item.meta?.name === 'string' ? item.meta.name : item.key;
      const content = await item.open();
      if (!content) continue;
      yield {
        path:
          label === '' ? filePath(object, id, record, fallback) : `${object} files${label}/${id} ${safeName(fallback)}`,
        content: content as AsyncIterable<Uint8Array>,
        size: item.size,
      };
    }
  }
}

/** The blob fields of the standard objects that have files (a backup stores each as `<Id>/<Field>`). */
const BLOB_FIELDS: Record<string, readonly string[]> = {
  ContentVersion: ['VersionData'],
  Attachment: ['Body'],
  Document: ['Body'],
};

/** Where a record's file is in the export: `<Object> files/<Id> <file name>`. */
function filePath(object: string, id: string, record: Record<string, unknown> | undefined, fallback: string): string {
  return `${object} files/${id} ${safeName(fileName(object, record, fallback))}`;
}

/** The record's label as the backup names its items (Name, Subject, Title, CaseNumber). */
function labelOf(record: Record<string, unknown>): string | undefined {
  for (const f of ['Name', 'Subject', 'Title', 'CaseNumber'])
    if (typeof record[f] === 'string') return record[f] as string;
  return undefined;
}

/** The record a file belongs to, from the chosen snapshot (for its file name). */
async function recordOf(run: ExportArchiveRun, id: string): Promise<Record<string, unknown> | undefined> {
  const item = await run.item(id);
  return item ? fieldsOf(item) : undefined;
}

/** A metadata type's components as a deployable package: package.xml and the components' files. */
async function* exportMetadata(run: ExportArchiveRun): AsyncGenerator<ExportEntry> {
  const type = run.entity.externalId.slice(METADATA_PREFIX.length);
  if (run.options.metadataPackage === false) {
    // The components as files, at their paths in a retrieve.
    for await (const item of run.items()) {
      const content = await item.open();
      if (content) yield { path: item.key, content: content as AsyncIterable<Uint8Array>, size: item.size };
    }
    return;
  }
  run.step(`packaging ${type}`);
  const zip = new ZipFile();
  const output = new PassThrough();
  (zip.outputStream as unknown as Readable).pipe(output);
  zip.on('error', (err: Error) => output.destroy(err));
  const members: string[] = [];
  // Components go in one at a time, each consumed before the next is read.
  const fill = (async () => {
    for await (const item of run.items()) {
      const content = (await item.open()) as Readable | undefined;
      if (!content) continue;
      if (item.kind === 'component' && typeof item.meta?.name === 'string') members.push(item.meta.name);
      const done = finished(content);
      zip.addReadStream(content, item.key, { size: item.size, mtime: run.snapshotTime });
      await done;
    }
    zip.addBuffer(Buffer.from(packageXml(type, members)), 'package.xml', { mtime: run.snapshotTime });
    zip.end();
  })();
  fill.catch((err: unknown) => output.destroy(err as Error));
  try {
    yield { path: `${type}.package.zip`, content: output };
    await fill;
  } finally {
    output.destroy();
  }
}

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** The package manifest a deploy reads (`sf project deploy start --metadata-dir`, Workbench). */
export function packageXml(type: string, members: readonly string[]): string {
  const names = [...new Set(members)].sort();
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    '<Package xmlns="http://soap.sforce.com/2006/04/metadata">',
    '    <types>',
    ...names.map((m) => `        <members>${escapeXml(m)}</members>`),
    `        <name>${escapeXml(type)}</name>`,
    '    </types>',
    `    <version>${API_VERSION}</version>`,
    '</Package>',
    '',
  ].join('\n');
}
