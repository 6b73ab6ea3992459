// Salesforce through the API alone: the stand-in knows a connected app with a JWT certificate,
// the appliance has a partner with a customer account, and an API key of the partner holds a
// bearer token. `call` records every response body so a test can check what never leaks.
import { generateKeyPairSync } from 'node:crypto';
import type { IOrganization } from '../../../core/identity/entities.ts';
import { seedDemoOrg } from '../../fakes/salesforce/index.ts';
import { addOrganization, getTokens, type Json, makeKey, rootOrganization, withBearer } from '../../helpers/api.ts';
import { completeSetupVia } from '../../helpers/kernel.ts';
import { createSalesforceHarness, type SalesforceHarness } from './harness.ts';

export interface SalesforceApiHarness {
  s: SalesforceHarness;
  customer: IOrganization;
  /** The JWT bearer flow's private key (PKCS#8 PEM) whose certificate the connected app holds. */
  privateKey: string;
  /** Every response body `call` has read, in order. */
  bodies: string[];
  call(method: string, path: string, body?: unknown): Promise<{ status: number; body: Json }>;
  close(): Promise<void>;
}

export async function createSalesforceApiHarness(demo: {
  accounts: number;
  contactsPerAccount: number;
}): Promise<SalesforceApiHarness> {
  const keys = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const s = await createSalesforceHarness();
  s.fake.oauth.registerApp({
    clientId: s.fake.clientId,
    clientSecret: s.fake.clientSecret,
    certificate: keys.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  });
  seedDemoOrg(s.fake.org, demo);
  s.clock.now += 3600_000;
  s.h.app.kernel.deps.now = () => s.h.clock.now;
  await completeSetupVia(s.h.app.app);
  const root = await rootOrganization(s.h.app);
  const partner = await addOrganization(s.h.app, root, 'partner', 'Partner');
  const customer = await addOrganization(s.h.app, partner, 'customer', 'Customer');
  const token = (await getTokens(s.h.app.app, await makeKey(s.h.app, partner))).access_token;
  const bodies: string[] = [];
  return {
    s,
    customer,
    privateKey: keys.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    bodies,
    async call(method, path, body) {
      const res = await s.h.app.app.request(`/api/v1${path}`, withBearer(token, method, body));
      const text = await res.text();
      bodies.push(text);
      return { status: res.status, body: text ? JSON.parse(text) : {} };
    },
    close: () => s.close(),
  };
}
