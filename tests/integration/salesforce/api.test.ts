// Through the API alone (an API key, no browser): a Salesforce task created with the JWT bearer
// flow (consumer key + username + private key), discovered, backed up, its snapshots listed on
// its entities; the private key never in a response.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Json } from '../../helpers/api.ts';
import { createSalesforceApiHarness, type SalesforceApiHarness } from './api-harness.ts';

let a: SalesforceApiHarness;
const call: SalesforceApiHarness['call'] = (method, path, body) => a.call(method, path, body);

beforeAll(async () => {
  a = await createSalesforceApiHarness({ accounts: 4, contactsPerAccount: 2 });
}, 60_000);

afterAll(async () => {
  await a.close();
});

describe('a Salesforce task through the API', () => {
  it('is created with the JWT bearer flow, discovered, backed up, and shows its snapshots', async () => {
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
    expect(created.body.task).toMatchObject({
      service: 'salesforce',
      connectionState: 'connected',
      apiUsageLimitPercent: 75,
    });
    const taskId = created.body.task.id as string;
    await a.s.h.runner.runUntilIdle();

    const entities = (await call('GET', `/tasks/${taskId}/entities?pageSize=100`)).body.items as Json[];
    const wanted = entities.filter((e) => e.name === 'Account' || e.name === 'Contact');
    expect(wanted).toHaveLength(2);
    const queued = await call('POST', `/tasks/${taskId}/entities/backup-now`, { ids: wanted.map((e) => e.id) });
    expect(queued.body.jobIds).toHaveLength(2);
    await a.s.h.runner.runUntilIdle();

    const after = ((await call('GET', `/tasks/${taskId}/entities?pageSize=100`)).body.items as Json[]).filter(
      (e) => e.name === 'Account' || e.name === 'Contact',
    );
    expect(after.map((e) => [e.name, e.status, e.items, typeof e.lastSnapshotId]).sort()).toEqual([
      ['Account', 'success', 4, 'string'],
      ['Contact', 'success', 8, 'string'],
    ]);
    for (const body of a.bodies) expect(body).not.toContain('PRIVATE KEY');
  });
});
