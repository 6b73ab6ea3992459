// The backup of ContentDocumentLink: which records each file is shared with. Salesforce answers
// a query of it only with a filter on ids ("Implementation restriction"), so it cannot be read like
// the other objects: a run pages through every ContentDocument Id and asks for the links of 200
// documents a query. Links carry no SystemModstamp worth following (a share changes the link, not
// the file), so every run reads them all; a run that completes deletes the links it no longer saw.
// Each link is an item like any record (key = its Id), so a restore finds a restored record's
// links as its children (LinkedEntityId) and a restored file's links by ContentDocumentId.
import type { BackupOutcome, BackupRun } from '../../../core/plugins/service.ts';
import type { SalesforceState } from './backup.ts';
import { BudgetExhausted, type SalesforceApi } from './session.ts';

export const LINK_OBJECT = 'ContentDocumentLink';

/** Documents per link query: 200 quoted ids keep the query URL well under Salesforce's limit. */
const DOCUMENTS_PER_QUERY = 200;

interface Page {
  records: (Record<string, unknown> & { Id: string })[];
  done: boolean;
  nextRecordsUrl?: string;
}

export async function backupLinks({
  api,
  run,
  defaultLimitPercent = 75,
}: {
  api: SalesforceApi;
  run: BackupRun<SalesforceState>;
  defaultLimitPercent?: number;
}): Promise<BackupOutcome<SalesforceState>> {
  const { conn } = api;
  const writer = run.writer;
  api.limitPercent = run.apiUsageLimitPercent ?? defaultLimitPercent;
  let stored = 0;
  let deleted = 0;
  const finish = (state: SalesforceState, stopped?: string): BackupOutcome<SalesforceState> => {
    run.log.info({ object: LINK_OBJECT, calls: api.calls, stored, deleted }, 'Salesforce file links backed up');
    run.step(`${api.calls} API calls, ${stored} links stored, ${deleted} deleted`);
    const outcome = { state, changesBy: [], apiCalls: api.calls };
    return stopped ? { ...outcome, partialReason: stopped } : outcome;
  };
  const prior = run.state ?? { v: 1 as const, fields: [] };

  /** Every page of a query, one call a page. */
  async function* pages(what: string, soql: string): AsyncGenerator<Page> {
    let page = await api.call(
      what,
      async () => (await conn.query(soql, { autoFetch: false })) as unknown as Page,
      run.signal,
    );
    for (;;) {
      yield page;
      if (page.done || !page.nextRecordsUrl) return;
      const next = page.nextRecordsUrl;
      page = await api.call(
        `${what} (next page)`,
        async () => (await conn.queryMore(next)) as unknown as Page,
        run.signal,
      );
    }
  }

  let fields: string[];
  const seen = new Set<string>();
  try {
    run.step(`describing ${LINK_OBJECT}`);
    const describe = (await api.call(
      `describe ${LINK_OBJECT}`,
      () => conn.sobject(LINK_OBJECT).describe(),
      run.signal,
    )) as unknown as { fields: { name: string; type: string }[] };
    fields = describe.fields.filter((f) => !['address', 'location', 'base64'].includes(f.type)).map((f) => f.name);
    const readLinks = async (documents: string[]) => {
      const soql = `SELECT ${fields.join(', ')} FROM ${LINK_OBJECT} WHERE ContentDocumentId IN (${documents.map((id) => `'${id}'`).join(',')})`;
      for await (const page of pages(`links of ${documents.length} files`, soql)) {
        for (const row of page.records) {
          const values: Record<string, unknown> = {};
          for (const f of fields) values[f] = row[f] ?? null;
          seen.add(row.Id);
          await writer.add(
            {
              key: row.Id,
              kind: 'record',
              meta: {
                object: LINK_OBJECT,
                ...(typeof row.SystemModstamp === 'string' ? { modified: row.SystemModstamp } : {}),
              },
            },
            Buffer.from(JSON.stringify(values)),
          );
          stored++;
        }
      }
    };
    run.step(`reading the links of every file`);
    let batch: string[] = [];
    for await (const page of pages('Ids of ContentDocument', 'SELECT Id FROM ContentDocument ORDER BY Id')) {
      for (const row of page.records) {
        batch.push(row.Id);
        if (batch.length === DOCUMENTS_PER_QUERY) {
          await readLinks(batch);
          batch = [];
        }
      }
    }
    if (batch.length) await readLinks(batch);
  } catch (err) {
    // What was read stands; links not seen are kept until a run completes.
    if (err instanceof BudgetExhausted) return finish(prior, err.message);
    throw err;
  }
  if (writer.hasParent) {
    for await (const item of writer.previousItems?.() ?? []) {
      if (!seen.has(item.key)) {
        await writer.delete(item.key);
        deleted++;
      }
    }
  }
  return finish({ v: 1, fields });
}
