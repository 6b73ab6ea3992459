// Files restored with their records: a deleted Account with a file published to it (ContentVersion
// FirstPublishLocationId, which makes the ContentDocumentLink) and an Attachment comes back with
// both linked to the new Account id and their content byte-identical, queried at the stand-in;
// every other share of a file (ContentDocumentLink) comes back to the records' new ids; a large
// file goes as a multipart upload streamed from the backup.
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { IOrganization } from '../../../core/identity/entities.ts';
import { Job } from '../../../core/jobs/entities.ts';
import { servicePlugin } from '../../../core/plugins/registry.ts';
import { planRestore } from '../../../core/recovery/plan.ts';
import { startRestore } from '../../../core/recovery/start.ts';
import { TaskEntity } from '../../../core/tasks/entities.ts';
import { type Org, seedDemoOrg } from '../../fakes/salesforce/index.ts';
import { startContext } from '../../helpers/recovery.ts';
import { backup, createSalesforceHarness, entity, type SalesforceHarness } from './harness.ts';
import { discoveredTask, liveRecords, restoreInPlace } from './restore-harness.ts';

let s: SalesforceHarness;
let org: IOrganization;
let taskId: string;

/** Salesforce's Attachment: a blob Body under a polymorphic ParentId. */
function defineAttachment(sf: Org): void {
  sf.defineObject(
    'Attachment',
    [
      { name: 'Name', type: 'string' },
      { name: 'ContentType', type: 'string' },
      {
        name: 'ParentId',
        type: 'reference',
        referenceTo: ['Account', 'Contact', 'Opportunity', 'Case'],
        relationshipName: 'Parent',
        required: true,
      },
      { name: 'Body', type: 'base64', required: true },
    ],
    { keyPrefix: '00P', noName: true },
  );
}

beforeAll(async () => {
  s = await createSalesforceHarness();
  seedDemoOrg(s.fake.org, { accounts: 1, contactsPerAccount: 1 });
  defineAttachment(s.fake.org);
  ({ taskId, org } = await discoveredTask(s));
});
afterAll(async () => {
  await s.close();
});

const live = liveRecords;

const md5 = (b: Buffer) => createHash('md5').update(b).digest('hex');

describe('Salesforce restore of files with their records', () => {
  it('brings a deleted account back with its file and attachment linked to the new id, content identical', async () => {
    const sf = s.fake.org;
    const account = sf.insert('Account', { Name: 'Files Co' });
    // Bytes that are not valid UTF-8, so a text round trip would show.
    const fileBytes = Buffer.concat([Buffer.from([0, 255, 254, 128]), Buffer.alloc(70_000, 7), Buffer.from('end')]);
    const { documentId, versionId } = sf.addFile('Contract', fileBytes, 'pdf');
    sf.update('ContentVersion', versionId, { FirstPublishLocationId: account });
    sf.insert('ContentDocumentLink', { ContentDocumentId: documentId, LinkedEntityId: account });
    const attachmentBytes = Buffer.from([1, 2, 3, 200, 201, 0, 9]);
    const attachment = sf.insert('Attachment', {
      Name: 'scan.bin',
      ContentType: 'application/octet-stream',
      ParentId: account,
    });
    sf.blobs.set(attachment, attachmentBytes);

    const names = (await s.h.em().find(TaskEntity, { task: taskId, kind: 'data' })).map((e) => e.name);
    expect(names).toEqual(expect.arrayContaining(['Account', 'ContentVersion', 'Attachment']));
    await backup(s, taskId, names);

    // Deleting the account deletes its attachment; the file goes with its only link.
    sf.delete('Account', account);
    sf.delete('Attachment', attachment);
    sf.delete('ContentVersion', versionId);
    sf.delete('ContentDocument', documentId);

    const job = await restoreInPlace(s, { taskId, org }, [account], { recordMode: 'bypass', hierarchyDepth: 1 });
    expect(job.error).toBeNull();
    expect(job.state).toBe('succeeded');
    expect(job.result?.counts).toMatchObject({ created: 3, failed: 0 });

    const [restored] = live(sf, 'Account', (v) => v.Name === 'Files Co');
    expect(restored?.Id).toMatch(/^001/);
    expect(restored?.Id).not.toBe(account);

    const [att] = live(sf, 'Attachment', (v) => v.ParentId === restored?.Id);
    expect(att).toMatchObject({ Name: 'scan.bin', ContentType: 'application/octet-stream' });
    expect(sf.blobs.get(att?.Id as string)?.equals(attachmentBytes)).toBe(true);

    const links = live(sf, 'ContentDocumentLink', (v) => v.LinkedEntityId === restored?.Id);
    expect(links).toHaveLength(1);
    const newDocument = links[0]?.ContentDocumentId as string;
    expect(newDocument).toMatch(/^069/);
    expect(newDocument).not.toBe(documentId);
    const [version] = live(sf, 'ContentVersion', (v) => v.ContentDocumentId === newDocument);
    expect(version).toMatchObject({ Title: 'Contract', PathOnClient: 'Contract.pdf', IsLatest: true });
    expect(version?.Checksum).toBe(md5(fileBytes));
    expect(sf.blobs.get(version?.Id as string)?.equals(fileBytes)).toBe(true);
  });

  it('restores every link of a file, to each record it was shared with, following the new ids', async () => {
    const sf = s.fake.org;
    const account = sf.insert('Account', { Name: 'Links Co' });
    const contact = sf.insert('Contact', { LastName: 'Linked', Name: 'Linked', AccountId: account });
    const elsewhere = sf.insert('Account', { Name: 'Stays Co' });
    // A file published to the account and shared with its contact …
    const own = sf.addFile('Plan', 'the plan', 'txt');
    sf.update('ContentVersion', own.versionId, { FirstPublishLocationId: account });
    sf.insert('ContentDocumentLink', { ContentDocumentId: own.documentId, LinkedEntityId: account, ShareType: 'I' });
    sf.insert('ContentDocumentLink', { ContentDocumentId: own.documentId, LinkedEntityId: contact, ShareType: 'V' });
    // … and a file of another account (never deleted) shared with it.
    const shared = sf.addFile('Terms', 'the terms', 'txt');
    sf.update('ContentVersion', shared.versionId, { FirstPublishLocationId: elsewhere });
    sf.insert('ContentDocumentLink', { ContentDocumentId: shared.documentId, LinkedEntityId: elsewhere });
    sf.insert('ContentDocumentLink', { ContentDocumentId: shared.documentId, LinkedEntityId: account, ShareType: 'V' });
    await backup(s, taskId, ['Account', 'Contact', 'ContentVersion', 'ContentDocumentLink']);

    // Deleting the records and the first file deletes their links.
    sf.delete('Contact', contact);
    sf.delete('Account', account);
    sf.delete('ContentVersion', own.versionId);
    sf.delete('ContentDocument', own.documentId);
    expect(live(sf, 'ContentDocumentLink', (v) => v.ContentDocumentId === shared.documentId)).toHaveLength(1);

    const accountEntity = await entity(s, taskId, 'Account');
    const request = {
      taskId,
      entityId: accountEntity.id,
      snapshotId: accountEntity.lastSnapshotId as string,
      keys: [account],
      mode: 'in_place' as const,
      options: { recordMode: 'bypass', hierarchyDepth: 1 },
    };
    // The dialog's plan counts the link Salesforce makes when the file is inserted (to the
    // account it was first published to) as a skip, the two others as creates.
    const work = {
      storage: s.h.ctx.storage,
      services: servicePlugin,
      credentials: s.h.ctx.credentials,
      log: s.h.ctx.log,
      signal: AbortSignal.timeout(20_000),
    };
    const plan = await planRestore(work, startContext(s.h, org), request);
    expect(plan?.rows.find((r) => r[0] === 'ContentDocumentLink')).toEqual(['ContentDocumentLink', 3, 2, 0, 1]);
    expect(plan?.notes).toContain(
      'A restored file is linked by Salesforce to the record it was first published to: that link is counted as skipped. A link the org already has or whose record is neither there nor restored is skipped too.',
    );
    const started = await startRestore(startContext(s.h, org), request);
    await s.h.runner.runUntilIdle();
    const job = await s.h.em().findOneOrFail(Job, { id: started.id });
    expect(job.error).toBeNull();
    // Account, Contact, the file, its link to the contact, the other file's link to the account;
    // the file's link to the account is the one Salesforce made from FirstPublishLocationId.
    expect(job.result?.counts).toEqual({ created: 5, updated: 0, skipped: 1, failed: 0 });

    const [newAccount] = live(sf, 'Account', (v) => v.Name === 'Links Co');
    const [newContact] = live(sf, 'Contact', (v) => v.AccountId === newAccount?.Id);
    const [version] = live(sf, 'ContentVersion', (v) => v.FirstPublishLocationId === newAccount?.Id);
    const newDocument = version?.ContentDocumentId as string;
    expect(newDocument).not.toBe(own.documentId);
    const linked = (doc: string) =>
      live(sf, 'ContentDocumentLink', (v) => v.ContentDocumentId === doc)
        .map((v) => [v.LinkedEntityId, v.ShareType ?? null])
        .sort();
    expect(linked(newDocument)).toEqual(
      [
        [newAccount?.Id, null],
        [newContact?.Id, 'V'],
      ].sort(),
    );
    expect(linked(shared.documentId)).toEqual(
      [
        [elsewhere, null],
        [newAccount?.Id, 'V'],
      ].sort(),
    );
  });

  it('sends a large file as a multipart upload streamed from the backup, content identical', async () => {
    const sf = s.fake.org;
    const account = sf.insert('Account', { Name: 'Large Files Co' });
    // Past the 1 MiB that go base64 in a JSON body.
    const big = Buffer.alloc(3 * 1024 * 1024 + 17);
    for (let i = 0; i < big.length; i++) big[i] = (i * 31 + (i >> 11)) & 0xff;
    const { documentId, versionId } = sf.addFile('Drawing', big, 'dwg');
    sf.update('ContentVersion', versionId, { FirstPublishLocationId: account });
    await backup(s, taskId, ['Account', 'ContentVersion']);
    sf.delete('Account', account);
    sf.delete('ContentVersion', versionId);
    sf.delete('ContentDocument', documentId);
    const multipartBefore = s.fake.requests.get('multipart') ?? 0;

    const job = await restoreInPlace(s, { taskId, org }, [account], { recordMode: 'bypass', hierarchyDepth: 1 });
    expect(job.error).toBeNull();
    expect(job.result?.counts).toMatchObject({ created: 2, failed: 0 });
    expect((s.fake.requests.get('multipart') ?? 0) - multipartBefore).toBe(1);

    const [restored] = live(sf, 'Account', (v) => v.Name === 'Large Files Co');
    const [link] = live(sf, 'ContentDocumentLink', (v) => v.LinkedEntityId === restored?.Id);
    const [version] = live(sf, 'ContentVersion', (v) => v.ContentDocumentId === link?.ContentDocumentId);
    expect(version).toMatchObject({ Title: 'Drawing', PathOnClient: 'Drawing.dwg', ContentSize: big.length });
    expect(version?.Checksum).toBe(md5(big));
    expect(sf.blobs.get(version?.Id as string)?.equals(big)).toBe(true);
  });
});
