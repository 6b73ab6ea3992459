// Through the API alone (an API key, no browser): a Salesforce task created with the JWT bearer
// flow (consumer key + username + private key), discovered, backed up, its snapshots listed on
// its entities; the private key never in a response.
import { generateKeyPairSync } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { IOrganization } from '../../../core/identity/entities.ts';
import { seedDemoOrg } from '../../fakes/salesforce/index.ts';
import { addOrganization, getTokens, type Json, makeKey, rootOrganization, withBearer } from '../../helpers/api.ts';
import { completeSetupVia } from '../../helpers/kernel.ts';
import { createSalesforceHarness, type SalesforceHarness } from './harness.ts';

const keys = generateKeyPairSync('rsa', { modulusLength: 2048 });
const privateKey = keys.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();

let s: SalesforceHarness;
let token: string;
let customer: IOrganization;
const bodies: string[] = [];

async function call(method: string, path: string, body?: unknown): Promise<{ status: number; body: Json }> {
  const res = await s.h.app.app.request(`/api/v1${path}`, withBearer(token, method, body));
  const text = await res.text();
  bodies.push(text);
  return { status: res.status, body: text ? JSON.parse(text) : {} };
}

beforeAll(async () => {
  s = await createSalesforceHarness();
  s.fake.oauth.registerApp({
    clientId: s.fake.clientId,
    clientSecret: s.fake.clientSecret,
    certificate: keys.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  });
  seedDemoOrg(s.fake.org, { accounts: 4, contactsPerAccount: 2 });
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

describe('a Salesforce task through the API', () => {
  it('is created with the JWT bearer flow, discovered, backed up, and shows its snapshots', async () => {
    const created = await call('POST', `/tasks?organization=${customer.id}`, {
      service: 'salesforce',
      name: 'Acme Salesforce',
      connection: { environment: 'production', orgId: s.fake.org.id, username: 'admin@stand-in.example', privateKey },
      settings: { autoActivate: false },
    });
    expect(created.status).toBe(201);
    expect(created.body.task).toMatchObject({
      service: 'salesforce',
      connectionState: 'connected',
      apiUsageLimitPercent: 75,
    });
    const taskId = created.body.task.id as string;
    await s.h.runner.runUntilIdle();

    const entities = (await call('GET', `/tasks/${taskId}/entities?pageSize=100`)).body.items as Json[];
    const wanted = entities.filter((e) => e.name === 'Account' || e.name === 'Contact');
    expect(wanted).toHaveLength(2);
    const queued = await call('POST', `/tasks/${taskId}/entities/backup-now`, { ids: wanted.map((e) => e.id) });
    expect(queued.body.jobIds).toHaveLength(2);
    await s.h.runner.runUntilIdle();

    const after = ((await call('GET', `/tasks/${taskId}/entities?pageSize=100`)).body.items as Json[]).filter(
      (e) => e.name === 'Account' || e.name === 'Contact',
    );
    expect(after.map((e) => [e.name, e.status, e.items, typeof e.lastSnapshotId]).sort()).toEqual([
      ['Account', 'success', 4, 'string'],
      ['Contact', 'success', 8, 'string'],
    ]);
    for (const body of bodies) expect(body).not.toContain('PRIVATE KEY');
  });
});
