// Dropbox paths are case-insensitive, and the plugin says so (pathsCaseInsensitive): a folder
// asked for as "PROJECTS/folder" is the snapshot's "Projects/Folder" when browsing and when
// exporting, while a selection that matches nothing is refused before a job is queued, naming it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { browseSnapshot, entitySnapshot, resolvePath } from '../../../core/catalog/browse.ts';
import { ValidationError } from '../../../core/errors.ts';
import { Organization } from '../../../core/identity/entities.ts';
import { Job } from '../../../core/jobs/entities.ts';
import { servicePlugin } from '../../../core/plugins/registry.ts';
import { ExportResult } from '../../../core/recovery/entities.ts';
import { startExport } from '../../../core/recovery/start.ts';
import type { IBackupTask, ITaskEntity } from '../../../core/tasks/entities.ts';
import {
  backup,
  createDropboxHarness,
  type DropboxHarness,
  discover,
  dropboxTask,
  entity,
} from '../../helpers/dropbox.ts';
import { readZip, startContext } from '../../helpers/recovery.ts';

let d: DropboxHarness;
let task: IBackupTask;
let source: ITaskEntity;

beforeAll(async () => {
  d = await createDropboxHarness(5);
  const member = d.fake.team.addMember({ email: 'pia@acme.example' });
  member.namespace.writeFile('/Projects/Folder/a.txt', Buffer.from('a'));
  member.namespace.writeFile('/Projects/Folder/sub/b.txt', Buffer.from('b'));
  member.namespace.writeFile('/Projects/other.txt', Buffer.from('other'));
  task = await dropboxTask(d);
  await discover(d, task.id);
  const [job] = await backup(d, task.id, ['pia@acme.example']);
  expect(job?.state).toBe('succeeded');
  source = await entity(d, task.id, 'pia@acme.example');
}, 60_000);

afterAll(async () => {
  await d.close();
});

async function organization() {
  return d.h.em().findOneOrFail(Organization, { id: task.organization.id });
}

describe('paths under the service’s rules', () => {
  it('the Dropbox plugin declares case-insensitive paths', () => {
    expect(servicePlugin('dropbox')?.pathsCaseInsensitive).toBe(true);
  });

  it('browses "PROJECTS/folder" as the snapshot’s "Projects/Folder"', async () => {
    const scope = { task: task.id, entity: source.externalId };
    const snapshot = await entitySnapshot(d.h.em(), scope, source.lastSnapshotId as string);
    if (!snapshot) throw new Error('the snapshot is not in the catalog');
    const at = { ...snapshot, ...scope };
    expect(await resolvePath(d.h.em(), at, 'PROJECTS/folder', true)).toBe('Projects/Folder');
    expect(await resolvePath(d.h.em(), at, 'PROJECTS/folder', false)).toBeUndefined();
    expect(await resolvePath(d.h.em(), at, 'Projects/Nothing', true)).toBeUndefined();
    const listing = await browseSnapshot(d.h.em(), at, 'Projects/Folder', { limit: 10, offset: 0 });
    expect(listing.entries.map((e) => e.name)).toEqual(['sub', 'a.txt']);
  });

  it('exports "PROJECTS/folder" with everything in "Projects/Folder"', async () => {
    const started = await startExport(startContext(d.h, await organization()), {
      taskId: task.id,
      entityId: source.id,
      snapshotId: source.lastSnapshotId as string,
      paths: ['PROJECTS/folder'],
    });
    await d.h.runner.runUntilIdle();
    const job = await d.h.em().findOneOrFail(Job, { id: started.id });
    expect(job.state).toBe('succeeded');
    const result = await d.h.em().findOneOrFail(ExportResult, { job: started.id });
    const entries = await readZip(result.filePath);
    expect([...entries.keys()].filter((n) => !n.endsWith('/')).sort()).toEqual([
      'Projects/Folder/a.txt',
      'Projects/Folder/sub/b.txt',
    ]);
  });

  it('refuses an export whose selection matches nothing, naming the selection', async () => {
    const before = await d.h.em().count(Job, {});
    const refused = await startExport(startContext(d.h, await organization()), {
      taskId: task.id,
      entityId: source.id,
      snapshotId: source.lastSnapshotId as string,
      paths: ['Projects/Nothing'],
    }).catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(ValidationError);
    expect((refused as ValidationError).fields).toEqual({
      selection: 'Nothing in this snapshot matches the folder "Projects/Nothing".',
    });
    expect(await d.h.em().count(Job, {})).toBe(before);
  });
});
