// Catalog full-text search, the same rules on either database (FTS5 on SQLite, tsvector + GIN on
// PostgreSQL): run by the default project on SQLite and by the project `postgres` on a real
// PostgreSQL server. Every typed word must match, the last as a prefix; case and diacritics do
// not matter; a word holding separators is a phrase; typed operators are plain words; newest
// items (highest ids) come first.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { searchEntityItems } from '../../../core/catalog/browse.ts';
import { CatalogRepository, CatalogSnapshot } from '../../../core/catalog/entities.ts';
import { searchCatalog } from '../../../core/catalog/search.ts';
import { catalogBatchWriter, onPostgres } from '../../../core/db/catalog-sql.ts';
import { type Database, migrate, openDatabase } from '../../../core/db/database.ts';
import { tempDir, testConfig } from '../../helpers/config.ts';
import { testPostgresUrl } from '../../helpers/postgres.ts';

const ITEMS = [
  { key: 'a', name: 'Quarterly report.pdf', path: '/Finance/Quarterly report.pdf', author: 'Ana' },
  { key: 'b', name: 'Café menu.txt', path: '/Lunch/Café menu.txt', author: 'Bo' },
  { key: 'c', name: 'my_file.txt', path: '/Misc/my_file.txt', author: null },
  { key: 'd', name: 'file my.txt', path: '/Misc/file my.txt', author: null },
  { key: 'e', name: 'Report draft.docx', path: '/Finance/Report draft.docx', author: 'Ana' },
  { key: 'f', name: 'STRASSE.txt', path: '/Ümlauts/STRASSE.txt', author: 'Émile' },
];

let orm: Database;
const dir = tempDir();
const ids = new Map<string, number>();

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
      items: ITEMS.length,
      bytes: 0,
    });
    await tx.flush();
    const writer = await catalogBatchWriter(tx, { repository: 'r1', task: 't1', entity: 'e1' });
    const inserted = await writer.insertItems(ITEMS.map((i) => ({ ...i, kind: 'file' })));
    inserted.forEach((id, n) => {
      ids.set(ITEMS[n]?.key as string, id);
    });
    await writer.insertVersions(
      inserted.map((itemId) => ({
        itemId,
        snapshotId: 's1',
        size: 1,
        modified: null,
        author: null,
        editor: null,
        contentId: null,
        deleted: false,
      })),
    );
  });
});

afterAll(async () => {
  await orm.close();
  dir.remove();
});

async function keysFound(text: string, limit?: number): Promise<string[]> {
  const hits = await searchCatalog(orm.em.fork(), { text, ...(limit ? { limit } : {}) });
  return hits.map((h) => h.key);
}

describe(`catalog search on ${testPostgresUrl() ? 'PostgreSQL' : 'SQLite'}`, () => {
  it('runs on the database the project chose', () => {
    expect(onPostgres(orm.em.fork())).toBe(Boolean(testPostgresUrl()));
  });

  it('needs every word, the last one as a prefix, newest item first', async () => {
    expect(await keysFound('report')).toEqual(['e', 'a']);
    expect(await keysFound('quarterly rep')).toEqual(['a']);
    expect(await keysFound('quart report')).toEqual([]);
    expect(await keysFound('rep')).toEqual(['e', 'a']);
  });

  it('searches name, path and author', async () => {
    expect(await keysFound('finance')).toEqual(['e', 'a']);
    expect(await keysFound('ana draft')).toEqual(['e']);
  });

  it('ignores case and diacritics on both sides', async () => {
    expect(await keysFound('CAFE')).toEqual(['b']);
    expect(await keysFound('café')).toEqual(['b']);
    expect(await keysFound('umlauts emile')).toEqual(['f']);
    expect(await keysFound('strasse')).toEqual(['f']);
  });

  it('reads a word holding separators as a phrase, in order', async () => {
    expect(await keysFound('my_file')).toEqual(['c']);
    expect(await keysFound('my_fi')).toEqual(['c']);
    expect(await keysFound('my file')).toEqual(['d', 'c']);
  });

  it('takes typed operators and quotes as plain text', async () => {
    expect(await keysFound('-report')).toEqual(['e', 'a']);
    expect(await keysFound('"report" OR menu')).toEqual([]);
    expect(await keysFound('report*')).toEqual(['e', 'a']);
    expect(await keysFound("bo's café")).toEqual([]);
    expect(await keysFound('!&|:*()')).toEqual([]);
  });

  it('keeps to the limit, newest first', async () => {
    expect(await keysFound('txt', 2)).toEqual(['f', 'd']);
    expect(ids.get('f')).toBeGreaterThan(ids.get('d') as number);
  });
});

describe(`catalog search over thousands of items on ${testPostgresUrl() ? 'PostgreSQL' : 'SQLite'}`, () => {
  // More items than PostgreSQL's search reads row by row before it asks the index (2048 ids):
  // matches among the newest ids and older ones come back as one list, newest first.
  const LEDGERS = 3000;
  const keys: string[] = [];

  beforeAll(async () => {
    await orm.em.fork().transactional(async (tx) => {
      const writer = await catalogBatchWriter(tx, { repository: 'r1', task: 't1', entity: 'books' });
      const rows = Array.from({ length: LEDGERS }, (_, n) => ({
        key: `book${n}`,
        name: n % 10 === 0 ? `Ledger ${n}.csv` : `Journal ${n}.csv`,
        path: `/Books/${n}.csv`,
        author: null,
        kind: 'file',
      }));
      await writer.insertItems(rows);
      keys.push(...rows.map((r) => r.key));
    });
  });

  const newestFirst = (wanted: (n: number) => boolean) => keys.filter((_, n) => wanted(n)).reverse();

  it('returns every match of a sparse word, newest first, across old and new items', async () => {
    expect(await keysFound('ledger', 500)).toEqual(newestFirst((n) => n % 10 === 0));
    expect(await keysFound('ledger', 250)).toEqual(newestFirst((n) => n % 10 === 0).slice(0, 250));
  });

  it('fills the page from the newest items for a common word', async () => {
    expect(await keysFound('journal', 50)).toEqual(newestFirst((n) => n % 10 !== 0).slice(0, 50));
  });

  it('joins the matches of a prefix among the newest and the oldest items', async () => {
    expect(await keysFound('books 12', 500)).toEqual(newestFirst((n) => String(n).startsWith('12')));
    expect(await keysFound('journal 5', 3)).toEqual(['book599', 'book598', 'book597']);
  });
});

describe(`one entity's item search over thousands of items on ${testPostgresUrl() ? 'PostgreSQL' : 'SQLite'}`, () => {
  // The recovery page's search (searchEntityItems): two entities' items interleaved, more than
  // PostgreSQL reads row by row (2048 ids), so its stages meet the entity's other conditions.
  const ROWS = 3200;
  const own: string[] = [];
  // The oldest items hold a word the newest do not, mostly in the other entity: the search
  // reaches it through the index, a batch of ids at a time.
  const nameOf = (n: number) =>
    n < 1000 && (n % 2 === 1 || n % 50 === 0) ? `Archive ${n}` : n % 20 === 0 ? `Invoice ${n}` : `Letter ${n}`;

  beforeAll(async () => {
    await orm.em.fork().transactional(async (tx) => {
      tx.create(CatalogSnapshot, {
        id: 's2',
        repository: 'r1',
        task: 't2',
        entity: 'mail',
        time: new Date(),
        parent: null,
        items: ROWS,
        bytes: 0,
      });
      await tx.flush();
      const mine = await catalogBatchWriter(tx, { repository: 'r1', task: 't2', entity: 'mail' });
      const theirs = await catalogBatchWriter(tx, { repository: 'r1', task: 't2', entity: 'files' });
      for (let n = 0; n < ROWS; n++) {
        const writer = n % 2 === 0 ? mine : theirs;
        const key = `m${n}`;
        const [itemId] = await writer.insertItems([
          { key, name: nameOf(n), path: `/m/${n}`, author: null, kind: 'file' },
        ]);
        await writer.insertVersions([
          {
            itemId: itemId as number,
            snapshotId: 's2',
            size: n,
            modified: null,
            author: null,
            editor: null,
            contentId: null,
            deleted: false,
          },
        ]);
        if (n % 2 === 0) own.push(key);
      }
    });
  });

  const found = async (text: string, limit: number) =>
    (await searchEntityItems(orm.em.fork(), { task: 't2', entity: 'mail' }, { text, limit })).map((h) => h.key);
  const newest = (wanted: (n: number) => boolean) => own.filter((key) => wanted(Number(key.slice(1)))).reverse();

  it('finds a sparse word of the entity across old and new items, newest first', async () => {
    expect(await found('invoice', 500)).toEqual(newest((n) => nameOf(n).startsWith('Invoice')));
  });

  it('finds a word only the oldest items hold, past batches of the other entity’s matches', async () => {
    expect(await found('archive', 15)).toEqual(newest((n) => nameOf(n).startsWith('Archive')).slice(0, 15));
    expect(await found('archive', 500)).toEqual(newest((n) => nameOf(n).startsWith('Archive')));
  });

  it('fills the page from the entity’s newest items for a common word', async () => {
    expect(await found('letter', 40)).toEqual(newest((n) => nameOf(n).startsWith('Letter')).slice(0, 40));
  });

  it('finds nothing of another entity', async () => {
    expect(await found('letter 3199', 10)).toEqual([]);
    expect(await found('letter 3198', 10)).toEqual(['m3198']);
  });
});
