// Salesforce export options through the API alone (an API key): `POST /api/v1/jobs` with
// `kind: "export"` takes the connector's options by name (`options.deletedRecords`), refuses a
// name the connector does not offer and a value of the wrong type with a 422 naming the field,
// and the job carries what was accepted.
import { generateKeyPairSync } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { IOrganization } from '../../../core/identity/entities.ts';
import { Job } from '../../../core/jobs/entities.ts';
import { seedDemoOrg } from '../../fakes/salesforce/index.ts';
import { addOrganization, getTokens, type Json, makeKey, rootOrganization, withBearer } from '../../helpers/api.ts';
import { completeSetupVia } from '../../helpers/kernel.ts';
import { createSalesforceHarness, type SalesforceHarness } from './harness.ts';

const keys = generateKeyPairSync('rsa', { modulusLength: 2048 });
const privateKey = keys.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();

let s: SalesforceHarness;
let token: string;
let customer: IOrganization;

async function call(method: string, path: string, body?: unknown): Promise<{ status: number; body: Json }> {
  const res = await s.h.app.app.request(`/api/v1${path}`, withBearer(token, method, body));
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : {} };
}

beforeAll(async () => {
  s = await createSalesforceHarness();
  s.fake.oauth.registerApp({
    clientId: s.fake.clientId,
    clientSecret: s.fake.clientSecret,
    certificate: keys.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  });
  seedDemoOrg(s.fake.org, { accounts: 3, contactsPerAccount: 1 });
  s.clock.now += 3600_000;
  s.h.app.kernel.deps.now = () => s.h.clock.now;
  await completeSetupVia(s.h.app.app);
  const root = await rootOrganization(s.h.app);
  const partner = await addOrganization(s.h.app, root, 'partner', 'Partner');
  customer = await addOrganization(s.h.app, partner, 'customer', 'Customer');
  token = (await getTokens(s.h.app.app, await makeKey(s.h.app, partner))).access_token;
}, 60_000);

afterAll(async () => {
  await s.close();
});

describe('Salesforce export options through the API', () => {
  it('takes the connector’s options by name and refuses unknown ones and wrong types, naming the field', async () => {
    const created = await call('POST', `/tasks?organization=${customer.id}`, {
      service: 'salesforce',
      name: 'Acme Salesforce',
      connection: { environment: 'production', orgId: s.fake.org.id, username: 'admin@stand-in.example', privateKey },
      settings: { autoActivate: false },
    });
    expect(created.status).toBe(201);
    const taskId = created.body.task.id as string;
    await s.h.runner.runUntilIdle();
    const account = ((await call('GET', `/tasks/${taskId}/entities?pageSize=100`)).body.items as Json[]).find(
      (e) => e.name === 'Account',
    ) as Json;
    await call('POST', `/tasks/${taskId}/entities/backup-now`, { ids: [account.id] });
    await s.h.runner.runUntilIdle();
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
    const job = await s.h.em().findOneOrFail(Job, { id: started.body.id });
    expect((job.params as { options: unknown }).options).toEqual({ deletedRecords: true, metadataPackage: true });
    await s.h.runner.runUntilIdle();
    expect((await call('GET', `/jobs/${started.body.id}`)).body.state).toBe('succeeded');
  });
});
