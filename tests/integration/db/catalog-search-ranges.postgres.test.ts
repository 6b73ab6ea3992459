// PostgreSQL's catalog search reads the newest id range first and older, wider ranges only while
// short of the limit (core/db/postgres-catalog.ts, matchDocuments). Items far apart in id (one
// newest item a million ids above the rest) make a search cross every range: the results are
// still every match, newest first, to the limit. Matching reads the stored search document.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CatalogRepository, CatalogSnapshot } from '../../../core/catalog/entities.ts';
import { catalogBatchWriter, matchDocuments, runSql } from '../../../core/db/catalog-sql.ts';
import { type Database, migrate, openDatabase } from '../../../core/db/database.ts';
import { tempDir, testConfig } from '../../helpers/config.ts';

let orm: Database;
const dir = tempDir();
const ids: number[] = [];
const FAR = 1_000_000;

beforeAll(async () => {
  orm = await openDatabase(testConfig(dir.path));
  await migrate(orm);
  await orm.em.fork().transactional(async (tx) => {
    tx.create(CatalogRepository, { id: 'r1', location: 'local:/r1', indexedAt: new Date() });
    tx.create(CatalogSnapshot, {
      id: 's1',
      repository: 'r1',
      task: 't1',
      entity: 'e1',
      time: new Date(),
      parent: null,
      items: 3,
      bytes: 0,
    });
    await tx.flush();
    const writer = await catalogBatchWriter(tx, { repository: 'r1', task: 't1', entity: 'e1' });
    const made = await writer.insertItems(
      ['Ledger 2024.xlsx', 'Ledger 2025.xlsx', 'Minutes.docx'].map((name, i) => ({
        key: `k${i}`,
        name,
        path: `/Finance/${name}`,
        author: null,
        kind: 'file',
      })),
    );
    ids.push(...made);
    // The newest item, far above the others: the ranges below it are empty until the oldest.
    await runSql(
      tx,
      `insert into catalog_items (id, scope_id, key, kind, name, path) select ?, scope_id, 'far', 'file', 'Ledger 2026.xlsx', '/Finance/Ledger 2026.xlsx' from catalog_items where id = ?`,
      [FAR, made[0]],
    );
  });
});

afterAll(async () => {
  await orm.close();
  dir.remove();
});

describe('catalog search on PostgreSQL, range by range', () => {
  it('finds matches in the oldest range when the newest ranges hold none', async () => {
    expect(await matchDocuments(orm.em.fork(), 'minutes', 10)).toEqual([ids[2]]);
  });

  it('joins the ranges newest first and stops at the limit', async () => {
    expect(await matchDocuments(orm.em.fork(), 'ledger', 10)).toEqual([FAR, ids[1], ids[0]]);
    expect(await matchDocuments(orm.em.fork(), 'ledger', 2)).toEqual([FAR, ids[1]]);
    expect(await matchDocuments(orm.em.fork(), 'nothing', 10)).toEqual([]);
  });
});

describe('catalog search on PostgreSQL, stored documents', () => {
  it('matches against the stored search document, never computing one while searching', async () => {
    // Inside a transaction rolled back at the end: the document function fails when called, so a
    // search that computed documents row by row (what made a rare word cost seconds) fails.
    const failed = new Error('rolled back');
    await expect(
      orm.em.fork().transactional(async (tx) => {
        await runSql(
          tx,
          `create or replace function holdfast_search_document(name text, path text, author text) returns tsvector
           language plpgsql immutable as $$ begin raise exception 'search document computed'; end $$`,
        );
        expect(await matchDocuments(tx, 'ledger', 10)).toEqual([FAR, ids[1], ids[0]]);
        expect(await matchDocuments(tx, 'nothing', 10)).toEqual([]);
        throw failed;
      }),
    ).rejects.toBe(failed);
    expect(await matchDocuments(orm.em.fork(), 'minutes', 10)).toEqual([ids[2]]);
  });
});
