// Compare reads no unchanged content (issue 19, at a small scale of the bench org): a stand-in org
// of objects of 2000 rows and files, backed up, 0.5 % of its rows changed and a new file version
// added, backed up again. Each object's two snapshots compared as the compare job does, with every
// blob the repository reads counted: each is a node of the two snapshots' trees, or the content of
// an item the compare reports as different — never an unchanged item's content; and for the
// objects' layered snapshots, fewer than half of their trees' nodes (the deltas and base paths).
// bench/salesforce-compare.ts times the same at 1M records.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compareEntity } from '../../../core/compare/compare-entity.ts';
import { BackupTask, TaskEntity } from '../../../core/tasks/entities.ts';
import { SnapshotReader } from '../../../storage/snapshot-reader.ts';
import { snapshotTrees } from '../../../storage/snapshot-state.ts';
import { treeNodeIds } from '../../../storage/tree.ts';
import { changeScaleOrg, seedScaleOrg } from '../../fakes/salesforce/index.ts';
import { backup, createSalesforceHarness, discover, type SalesforceHarness, salesforceTask } from './harness.ts';

let s: SalesforceHarness;
beforeAll(async () => {
  s = await createSalesforceHarness(5);
});
afterAll(async () => {
  await s.close();
});

describe('compare of two snapshots of a large org', () => {
  it('reads the two snapshots’ trees and the differing items’ content, nothing unchanged', async () => {
    const org = s.fake.org;
    const names = seedScaleOrg(org, { objects: 4, recordsPerObject: 2000, files: 5 });
    s.clock.now += 3600_000;
    const task = await salesforceTask(s);
    await discover(s, task.id);
    const all = (await s.h.em().find(TaskEntity, { task: task.id })).map((e) => e.name);
    expect((await backup(s, task.id, all)).filter((j) => j.state !== 'succeeded')).toEqual([]);
    const firstSnapshots = new Map(
      (await s.h.em().find(TaskEntity, { task: task.id })).map((e) => [e.name, e.lastSnapshotId as string]),
    );

    s.clock.now += 3600_000;
    const change = changeScaleOrg(org, names, 0.005);
    s.clock.now += 60_000;
    expect((await backup(s, task.id, all)).filter((j) => j.state !== 'succeeded')).toEqual([]);

    const em = s.h.em();
    const fresh = await em.findOneOrFail(BackupTask, { id: task.id }, { populate: ['organization'] });
    const plugin = s.h.ctx.services(fresh.service);
    const opened = await s.h.ctx.storage.open({
      id: fresh.id,
      organizationId: fresh.organization.id,
      storageLocation: fresh.storageLocation ?? null,
    });
    const { repo } = opened;
    const reads: string[] = [];
    const readBlobs = repo.readBlobs.bind(repo);
    try {
      const compared = new Map<string, { differing: number; contentReads: number; reads: number; treeNodes: number }>();
      for (const name of [...names, 'ContentVersion']) {
        const e = await em.findOneOrFail(TaskEntity, { task: task.id, name });
        const left = await SnapshotReader.open(repo, firstSnapshots.get(name) as string);
        const right = await SnapshotReader.open(repo, e.lastSnapshotId as string);
        // The blobs each item's content is in (read before counting starts).
        const owner = new Map<string, string>();
        for (const side of [left, right])
          for await (const item of side.items()) for (const id of item.content ?? []) owner.set(id, item.key);
        const treeNodes = new Set<string>();
        for (const side of [left, right])
          for (const tree of snapshotTrees(side.manifest))
            for await (const id of treeNodeIds(repo, tree)) treeNodes.add(id);

        reads.length = 0;
        repo.readBlobs = (ids: string[]) => {
          reads.push(...ids);
          return readBlobs(ids);
        };
        const differing = new Set<string>();
        const counts = await compareEntity(left, right, {
          oneRepository: true,
          plugin,
          ignored: new Set(plugin?.presentation?.compareIgnoredFields ?? []),
          signal: new AbortController().signal,
          onDifference: async (line) => {
            differing.add(line.key);
          },
        });
        repo.readBlobs = readBlobs;
        const unexpected = reads.filter((id) => !treeNodes.has(id) && !differing.has(owner.get(id) ?? ''));
        expect(unexpected).toEqual([]);
        compared.set(name, {
          differing: differing.size,
          contentReads: counts.contentReads,
          reads: reads.length,
          treeNodes: treeNodes.size,
        });
      }
      // Every changed row, inserted, deleted or purged one is a difference, and nothing else is.
      const rows = names.reduce((n, name) => n + (compared.get(name)?.differing ?? 0), 0);
      expect(rows).toBe(change.updated + change.inserted + change.deleted + change.purged);
      // Only the changed candidates' content was decoded: both versions of each updated row.
      const decoded = names.reduce((n, name) => n + (compared.get(name)?.contentReads ?? 0), 0);
      expect(decoded).toBe(2 * change.updated);
      // Two layered snapshots of one base: their deltas and the base's nodes on the differing
      // keys' paths, a fraction of what listing both would read.
      for (const name of names) {
        const { reads: read, treeNodes } = compared.get(name) as { reads: number; treeNodes: number };
        expect(read).toBeLessThan(treeNodes / 2);
      }
      // The new file version is a new ContentVersion row and its body: the body read is its own.
      expect(compared.get('ContentVersion')?.differing).toBeGreaterThan(0);
    } finally {
      repo.readBlobs = readBlobs;
      await opened.close();
    }
  }, 300_000);
});
