// A restored file keeps every share it had: ContentDocumentLinks (backed up through links.ts) are
// restored with the files and records they join. Gathering closes the set both ways — a restored
// file brings all its links, a restored record's link brings its file when the target lost it —
// and the links are created last, once their files have new ContentDocuments (asked of the
// target: a ContentVersion insert makes a new document) and their records new ids. A link
// Salesforce already has (the one a file insert makes to FirstPublishLocationId, or a link that
// was never deleted) is skipped, and so is a link whose record exists neither at the target nor
// in the restore: a link cannot be saved without its record.
import type { BackupSource, RestoreTarget } from './restore-gather.ts';
import type { LookupTargets, RecordMode, SourceRecord } from './restore-plan.ts';
import { mapLookup } from './restore-plan.ts';
import type { IdMap, IdSet, RestoreStore } from './restore-store.ts';
import type { SalesforceApi } from './session.ts';

export const LINK = 'ContentDocumentLink';
const VERSION = 'ContentVersion';
/** Ids per query: 200 quoted ids keep the query URL well under Salesforce's limit. */
const IDS_PER_QUERY = 200;

/** Links are created after every other object (their files get new documents first). */
export function linksLast(order: readonly string[]): string[] {
  return order.includes(LINK) ? [...order.filter((o) => o !== LINK), LINK] : [...order];
}

/**
 * Adds to the store the links of every restored file and the latest version of every linked file
 * the target no longer has. Reads only the backup and which documents live at the target; the
 * documents are compared in the store (its `doc` column), not in memory.
 */
export async function gatherFileLinks(
  store: RestoreStore,
  source: BackupSource,
  target: RestoreTarget,
  signal: AbortSignal,
): Promise<void> {
  signal.throwIfAborted();
  const db = store.db;
  db.exec('create table if not exists lost_doc (doc text primary key) without rowid');
  const isVersionDoc = db.prepare(`select 1 from rec where object = '${VERSION}' and latest = 1 and doc = ?`);
  const isLost = db.prepare('select 1 from lost_doc where doc = ?');
  const addLost = db.prepare('insert or ignore into lost_doc (doc) values (?)');
  // Documents of restored links whose file is not restored: lost at the target, their file comes too.
  const linkDocs = db.prepare(
    `select distinct doc from rec where object = '${LINK}' and doc is not null and doc not in
      (select doc from rec where object = '${VERSION}' and latest = 1 and doc is not null) and doc > ? order by doc limit ?`,
  );
  let after = '';
  for (;;) {
    const docs = (linkDocs.all(after, store.pageSize) as { doc: string }[]).map((r) => r.doc);
    if (!docs.length) break;
    after = docs[docs.length - 1] as string;
    const live = await target.live('ContentDocument', docs);
    for (const doc of docs) if (!live.has(doc)) addLost.run(doc);
  }
  if (db.prepare('select 1 from lost_doc limit 1').get()) {
    const lost = { has: (doc: string) => typeof doc === 'string' && !!isLost.get(doc) };
    for await (const [id, values] of source.children(VERSION, [{ field: 'ContentDocumentId', parents: lost }])) {
      if (values.IsLatest === false) continue;
      store.add({ object: VERSION, id, values, depth: 1 });
    }
  }
  if (!db.prepare(`select 1 from rec where object = '${VERSION}' and latest = 1 and doc is not null limit 1`).get()) {
    return;
  }
  const versionDocs = { has: (doc: string) => typeof doc === 'string' && !!isVersionDoc.get(doc) };
  for await (const [id, values] of source.children(LINK, [{ field: 'ContentDocumentId', parents: versionDocs }])) {
    store.add({ object: LINK, id, values, depth: 1 });
  }
}

/**
 * The links Salesforce makes itself when the restore inserts their file: a ContentVersion
 * inserted with FirstPublishLocationId gets a link to that record, so the backed-up link of the
 * same file to the same record is found at the target and skipped (prepareLinks). The plan
 * counts them as skips. Asked of the store: a link of a latest version's document and entity,
 * whose version is created (not live at the target, or Duplicate).
 */
export function automaticLinks(store: RestoreStore, mode: RecordMode): IdSet {
  const created = mode === 'duplicate' ? '' : 'and v.id not in (select id from live)';
  const stmt = store.db.prepare(
    `select 1 from rec l join rec v on v.object = '${VERSION}' and v.latest = 1 and v.doc = l.doc and v.entity = l.entity ${created}
      where l.id = ? and l.object = '${LINK}' limit 1`,
  );
  return { has: (id) => !!stmt.get(id) };
}

async function inChunks<T>(ids: readonly string[], ask: (chunk: string[]) => Promise<T[]>): Promise<T[]> {
  const out: T[] = [];
  for (let i = 0; i < ids.length; i += IDS_PER_QUERY) out.push(...(await ask(ids.slice(i, i + IDS_PER_QUERY))));
  return out;
}

/**
 * Before links are created: the new document of each file this restore created (source document
 * id → target document id, added to `remapped`), and of the links to create, those to skip with
 * the reason. The others are created with the ids remapped like any lookup.
 */
export async function prepareLinks(
  api: SalesforceApi,
  creates: readonly SourceRecord[],
  createdVersions: readonly { sourceDocument: string; targetId: string }[],
  targets: LookupTargets & { remapped: IdMap },
  signal: AbortSignal,
): Promise<Map<string, string>> {
  const query = <T>(what: string, soql: string) =>
    api.call(what, async () => ((await api.conn.query(soql)) as unknown as { records: T[] }).records, signal);
  const quoted = (ids: string[]) => ids.map((id) => `'${id}'`).join(',');
  const versions = await inChunks(
    createdVersions.map((v) => v.targetId),
    (chunk) =>
      query<{ Id: string; ContentDocumentId: string }>(
        'documents of the restored files',
        `SELECT Id, ContentDocumentId FROM ${VERSION} WHERE Id IN (${quoted(chunk)})`,
      ),
  );
  const documentOf = new Map(versions.map((v) => [v.Id, v.ContentDocumentId]));
  for (const v of createdVersions) {
    const doc = documentOf.get(v.targetId);
    if (doc && v.sourceDocument) targets.remapped.set(v.sourceDocument, doc);
  }

  const skip = new Map<string, string>();
  const wanted = new Map<string, { doc: string; entity: string }>();
  for (const r of creates) {
    const doc = mapLookup(String(r.values.ContentDocumentId ?? ''), targets);
    const entity = mapLookup(String(r.values.LinkedEntityId ?? ''), targets);
    if (!('to' in doc)) skip.set(r.id, `file ${r.values.ContentDocumentId} was not restored: link not restored`);
    else if (!('to' in entity)) {
      skip.set(
        r.id,
        `${r.values.LinkedEntityId} exists neither at the target nor in the restore: link to it not restored`,
      );
    } else wanted.set(r.id, { doc: doc.to, entity: entity.to });
  }
  const docs = [...new Set([...wanted.values()].map((w) => w.doc))];
  const existing = await inChunks(docs, (chunk) =>
    query<{ ContentDocumentId: string; LinkedEntityId: string }>(
      'links the files have at the target',
      `SELECT ContentDocumentId, LinkedEntityId FROM ${LINK} WHERE ContentDocumentId IN (${quoted(chunk)})`,
    ),
  );
  const pairs = new Set(existing.map((l) => `${l.ContentDocumentId}|${l.LinkedEntityId}`));
  for (const [id, w] of wanted) {
    if (pairs.has(`${w.doc}|${w.entity}`)) skip.set(id, `the file is linked to ${w.entity} at the target already`);
  }
  return skip;
}
