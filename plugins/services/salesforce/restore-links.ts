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
import { actionOf, mapLookup } from './restore-plan.ts';
import type { SalesforceApi } from './session.ts';

export const LINK = 'ContentDocumentLink';
const VERSION = 'ContentVersion';
/** Ids per query: 200 quoted ids keep the query URL well under Salesforce's limit. */
const IDS_PER_QUERY = 200;

/** Links are created after every other object (their files get new documents first). */
export function linksLast(order: readonly string[]): string[] {
  return order.includes(LINK) ? [...order.filter((o) => o !== LINK), LINK] : [...order];
}

const isLatestVersion = (r: { object: string; values: Record<string, unknown> }) =>
  r.object === VERSION && r.values.IsLatest !== false;

/**
 * Adds to `set` the links of every restored file and the latest version of every linked file the
 * target no longer has. Reads only the backup and which documents live at the target.
 */
export async function gatherFileLinks(
  set: Map<string, SourceRecord>,
  source: BackupSource,
  target: RestoreTarget,
  signal: AbortSignal,
): Promise<void> {
  signal.throwIfAborted();
  const versionDocs = new Set(
    [...set.values()].filter(isLatestVersion).map((r) => String(r.values.ContentDocumentId ?? '')),
  );
  const linkDocs = new Map<string, number>();
  for (const r of set.values()) {
    const doc = r.values.ContentDocumentId;
    if (r.object === LINK && typeof doc === 'string' && doc && !versionDocs.has(doc)) linkDocs.set(doc, r.depth);
  }
  if (linkDocs.size) {
    const live = await target.live('ContentDocument', [...linkDocs.keys()]);
    const lost = new Set([...linkDocs.keys()].filter((d) => !live.has(d)));
    if (lost.size) {
      const found = await source.children(VERSION, [{ field: 'ContentDocumentId', parents: lost }]);
      for (const [id, values] of found) {
        if (set.has(id) || values.IsLatest === false) continue;
        const doc = String(values.ContentDocumentId);
        set.set(id, { object: VERSION, id, values, depth: linkDocs.get(doc) ?? 1 });
        versionDocs.add(doc);
      }
    }
  }
  versionDocs.delete('');
  if (!versionDocs.size) return;
  const links = await source.children(LINK, [{ field: 'ContentDocumentId', parents: versionDocs }]);
  const depthOf = new Map([...set.values()].filter(isLatestVersion).map((r) => [r.values.ContentDocumentId, r.depth]));
  for (const [id, values] of links) {
    if (!set.has(id)) set.set(id, { object: LINK, id, values, depth: depthOf.get(values.ContentDocumentId) ?? 1 });
  }
}

/**
 * The links Salesforce makes itself when the restore inserts their file: a ContentVersion
 * inserted with FirstPublishLocationId gets a link to that record, so the backed-up link of the
 * same file to the same record is found at the target and skipped (prepareLinks). The plan
 * counts them as skips.
 */
export function automaticLinks(
  records: readonly SourceRecord[],
  live: ReadonlySet<string>,
  mode: RecordMode,
): Set<string> {
  const published = new Set<string>();
  for (const r of records) {
    const { ContentDocumentId: doc, FirstPublishLocationId: first } = r.values;
    if (!isLatestVersion(r) || typeof doc !== 'string' || typeof first !== 'string' || !doc || !first) continue;
    if (actionOf(mode, live.has(r.id)) === 'create') published.add(`${doc}|${first}`);
  }
  const out = new Set<string>();
  if (!published.size) return out;
  for (const r of records) {
    if (r.object === LINK && published.has(`${r.values.ContentDocumentId}|${r.values.LinkedEntityId}`)) out.add(r.id);
  }
  return out;
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
  targets: LookupTargets & { remapped: Map<string, string> },
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
