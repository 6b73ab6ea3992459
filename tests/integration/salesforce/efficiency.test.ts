// The efficiency acceptance, counted at the stand-in (never timed): 100 000 records in
// objects of 5000 (the shape of the 1M-record org of 200 objects, at a tenth of its
// objects: each object is one job and one snapshot, and the repository's fixed cost per snapshot,
// about 5 KB, would dominate a second run of 500-record objects), backed up once, then 0.5 % of
// the rows changed (updates, inserts, recycle-bin and hard deletes, one new file version) and
// backed up again. The second run makes at most 2 × objects + the pages of changed rows in API
// calls, downloads no unchanged file, and stores less than 2 % of the first run's bytes.
// bench/salesforce.ts runs the 1M-record org of 200 objects.
import { readdir, stat } from 'node:fs/promises';
import { join, sep } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TaskEntity } from '../../../core/tasks/entities.ts';
import { changeScaleOrg, seedScaleOrg } from '../../fakes/salesforce/index.ts';
import {
  backup,
  createSalesforceHarness,
  discover,
  type SalesforceHarness,
  salesforceTask,
  snapshotItems,
} from './harness.ts';

const OBJECTS = 20;
const RECORDS_PER_OBJECT = 5000;
const PAGE = 2000;

let s: SalesforceHarness;
beforeAll(async () => {
  s = await createSalesforceHarness(3);
});
afterAll(async () => {
  await s.close();
});

/** Bytes of the task repositories' files (packs, indexes, snapshots): what the backups stored. */
async function storedBytes(dir: string): Promise<number> {
  let total = 0;
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    if (!path.includes(`${sep}organizations${sep}`)) continue;
    total += (await stat(path)).size;
  }
  return total;
}

describe('a second run of a large org', () => {
  it('makes at most 2 × objects + the pages of changed rows in calls, downloads no unchanged file, stores < 2 % of the first run', async () => {
    const org = s.fake.org;
    const names = seedScaleOrg(org, { objects: OBJECTS, recordsPerObject: RECORDS_PER_OBJECT, files: 20 });
    s.clock.now += 3600_000;
    const task = await salesforceTask(s);
    await discover(s, task.id);
    const entities = await s.h.em().find(TaskEntity, { task: task.id });
    const all = entities.map((e) => e.name);
    const dataObjects = entities.filter((e) => e.kind === 'data').length;
    expect(dataObjects).toBeGreaterThanOrEqual(OBJECTS);

    const before = await storedBytes(s.h.app.dataDir);
    const first = await backup(s, task.id, all);
    expect(first.filter((j) => j.state !== 'succeeded')).toEqual([]);
    const firstBytes = (await storedBytes(s.h.app.dataDir)) - before;
    expect(s.fake.count('blob')).toBe(20);

    s.clock.now += 3600_000;
    const change = changeScaleOrg(org, names, 0.005);
    // 0.5 % of each object's rows.
    expect(change.updated + change.inserted + change.deleted + change.purged).toBe(
      OBJECTS * RECORDS_PER_OBJECT * 0.005,
    );
    s.clock.now += 60_000;
    s.fake.resetCounters();
    const afterFirst = await storedBytes(s.h.app.dataDir);
    const second = await backup(s, task.id, all);
    expect(second.filter((j) => j.state !== 'succeeded')).toEqual([]);
    const secondBytes = (await storedBytes(s.h.app.dataDir)) - afterFirst;

    // Pages of changed rows: each object's queryAll pages (the file's object: the new version and
    // the old one no longer latest).
    let pages = 0;
    for (const rows of change.changedRows.values()) pages += Math.max(1, Math.ceil(rows / PAGE));
    pages += 1;
    expect(s.fake.calls).toBeLessThanOrEqual(2 * entities.length + pages);
    // Where the calls went: one Composite call per object (its describe unchanged, getDeleted and
    // the one queryAll page of its changes), nothing else for records.
    expect(s.fake.count('composite')).toBe(dataObjects);
    expect(s.fake.count('composite/describe')).toBe(dataObjects);
    expect(s.fake.count('describe') + s.fake.count('describeGlobal')).toBe(0);
    expect(s.fake.count('deleted') + s.fake.count('queryAll')).toBe(0);
    expect(s.fake.count('queryMore') + s.fake.count('query')).toBe(0);
    // The new file version's body only.
    expect(s.fake.count('blob')).toBe(change.newFileVersions);
    expect(secondBytes).toBeLessThan(firstBytes * 0.02);

    // Nothing missing: an object with a hard delete, a recycle-bin delete and an insert.
    for (const name of names.slice(0, 3)) {
      const items = await snapshotItems(s, task.id, name);
      const keys = [...items].filter(([, i]) => i.kind === 'record').map(([k]) => k);
      expect(keys.sort()).toEqual(org.liveIds(name).sort());
    }
  }, 600_000);
});
