// Salesforce export options through the API alone (an API key): `POST /api/v1/jobs` with
// `kind: "export"` takes the connector's options by name (`options.deletedRecords`), refuses a
// name the connector does not offer and a value of the wrong type with a 422 naming the field,
// and the job carries what was accepted.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Job } from '../../../core/jobs/entities.ts';
import type { Json } from '../../helpers/api.ts';
import { createSalesforceApiHarness, type SalesforceApiHarness } from './api-harness.ts';

let a: SalesforceApiHarness;
const call: SalesforceApiHarness['call'] = (method, path, body) => a.call(method, path, body);

beforeAll(async () => {
  a = await createSalesforceApiHarness({ accounts: 3, contactsPerAccount: 1 });
}, 60_000);

afterAll(async () => {
  await a.close();
});

describe('Salesforce export options through the API', () => {
  it('takes the connector’s options by name and refuses unknown ones and wrong types, naming the field', async () => {
    const created = await call('POST', `/tasks?organization=${a.customer.id}`, {
      service: 'salesforce',
      name: 'Acme Salesforce',
      connection: {
        environment: 'production',
        orgId: a.s.fake.org.id,
        username: 'admin@stand-in.example',
        privateKey: a.privateKey,
      },
      settings: { autoActivate: false },
    });
    expect(created.status).toBe(201);
    const taskId = created.body.task.id as string;
    await a.s.h.runner.runUntilIdle();
    const account = ((await call('GET', `/tasks/${taskId}/entities?pageSize=100`)).body.items as Json[]).find(
      (e) => e.name === 'Account',
    ) as Json;
    await call('POST', `/tasks/${taskId}/entities/backup-now`, { ids: [account.id] });
    await a.s.h.runner.runUntilIdle();
    const entity = ((await call('GET', `/tasks/${taskId}/entities?pageSize=100`)).body.items as Json[]).find(
      (e) => e.name === 'Account',
    ) as Json;
    const base = { kind: 'export', taskId, entityId: entity.id, snapshotId: entity.lastSnapshotId };

    const unknown = await call('POST', '/jobs', { ...base, options: { colour: 'red' } });
    expect(unknown.status).toBe(422);
    expect(unknown.body.error.fields).toEqual({ 'options.colour': 'This service has no such export option.' });
    const wrongType = await call('POST', '/jobs', { ...base, options: { deletedRecords: 'yes' } });
    expect(wrongType.status).toBe(422);
    expect(Object.keys(wrongType.body.error.fields)).toEqual(['options.deletedRecords']);

    const started = await call('POST', '/jobs', { ...base, options: { deletedRecords: true } });
    expect(started.status).toBe(202);
    const job = await a.s.h.em().findOneOrFail(Job, { id: started.body.id });
    expect((job.params as { options: unknown }).options).toEqual({ deletedRecords: true, metadataPackage: true });
    await a.s.h.runner.runUntilIdle();
    expect((await call('GET', `/jobs/${started.body.id}`)).body.state).toBe('succeeded');
  });
});
