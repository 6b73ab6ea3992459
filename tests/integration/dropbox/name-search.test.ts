// Name search is Unicode-correct: every "contains" filter compares the folded form (NFKC and case
// folding) of the column with the folded text typed, so each awkward name on the Dropbox stand-in
// is found by its exact text, by another case and by its other normalization form — in the
// Recovery item search (file name, path) and in a filter of another table (the task's entities).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { searchEntityItems } from '../../../core/catalog/browse.ts';
import { BackupTask, type ITaskEntity } from '../../../core/tasks/entities.ts';
import { entityPage } from '../../../core/tasks/task-overview.ts';
import {
  backup,
  createDropboxHarness,
  type DropboxHarness,
  discover,
  dropboxTask,
  entity,
} from '../../helpers/dropbox.ts';

const NAMES = {
  umlauts: 'ÄÖÜ Bericht.txt',
  istanbul: 'İstanbul trip.txt',
  fullwidth: 'ＡＢＣ memo.txt',
  nfc: 'caf\u00e9 NFC.txt',
  nfd: 'cafe\u0301 NFD.txt',
  sharp: 'Straße.txt',
};

let d: DropboxHarness;
let taskId: string;
let source: ITaskEntity;

beforeAll(async () => {
  d = await createDropboxHarness(31);
  const member = d.fake.team.addMember({ email: 'nia@acme.example' });
  for (const name of Object.values(NAMES)) member.namespace.writeFile(`/Docs/${name}`, Buffer.from(name));
  d.fake.team.addTeamFolder('Ünïcödé Team');
  const task = await dropboxTask(d);
  taskId = task.id;
  await discover(d, task.id);
  const [job] = await backup(d, task.id, ['nia@acme.example']);
  expect(job?.state).toBe('succeeded');
  source = await entity(d, task.id, 'nia@acme.example');
}, 60_000);

afterAll(async () => {
  await d.close();
});

async function names(contains: { name?: string; path?: string }): Promise<string[]> {
  const hits = await searchEntityItems(d.h.em(), { task: taskId, entity: source.externalId }, { contains });
  return hits.map((h) => h.name).sort();
}

describe('Unicode-correct "contains" search', () => {
  it('finds each awkward file name by its exact text, another case and its other normalization', async () => {
    for (const typed of ['ÄÖÜ', 'äöü', 'Äöü bericht'])
      expect(await names({ name: typed }), typed).toEqual([NAMES.umlauts]);
    for (const typed of ['İstanbul', 'İSTANBUL']) expect(await names({ name: typed }), typed).toEqual([NAMES.istanbul]);
    for (const typed of ['ＡＢＣ', 'abc', 'ABC memo'])
      expect(await names({ name: typed }), typed).toEqual([NAMES.fullwidth]);
    const both = [NAMES.nfc, NAMES.nfd].sort();
    for (const typed of ['caf\u00e9', 'cafe\u0301', 'CAFÉ']) expect(await names({ name: typed }), typed).toEqual(both);
    for (const typed of ['strasse', 'STRASSE', 'Straße'])
      expect(await names({ name: typed }), typed).toEqual([NAMES.sharp]);
  });

  it('folds the path filter the same way', async () => {
    expect(await names({ path: 'DOCS/ÄÖÜ' })).toEqual([NAMES.umlauts]);
  });

  it('folds filters of other tables built on the same helper (a task’s entities)', async () => {
    const task = await d.h.em().findOneOrFail(BackupTask, { id: taskId });
    for (const search of ['ünïcödé', 'ÜNÏCÖDÉ']) {
      const { entities } = await entityPage(d.h.em(), task, { search, page: 1, pageSize: 50 });
      expect(
        entities.map((e) => e.name),
        search,
      ).toEqual(['Ünïcödé Team']);
    }
  });
});
