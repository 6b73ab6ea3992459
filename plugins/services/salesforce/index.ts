// The Salesforce service plugin: an org connected through the appliance's connected app (OAuth 2
// web-server flow with PKCE, or the JWT bearer flow for tasks created through the API), backing
// up each queryable object's records. jsforce loads when a task connects, not when the registry
// is imported. See README.md.
import { z } from 'zod';
import type { ServiceAppSettings, ServicePlugin } from '../../../core/plugins/service.ts';
import { authorizationUrl, salesforceApp } from './app.ts';
import type { ConnectOptions, SalesforceRunState } from './connection.ts';
import type { SalesforceSettings } from './session.ts';

export { SALESFORCE_APP_SETTINGS, type SalesforceApp, salesforceApp } from './app.ts';
export type { SalesforceState } from './backup.ts';
export type { SalesforceRunState } from './connection.ts';
export type { MetadataState } from './metadata.ts';
export type { SalesforceSettings } from './session.ts';

export const SALESFORCE_KIND = 'salesforce';

const connectFirst = { error: 'Connect with Salesforce first.' };

const settings = z
  .object({
    environment: z
      .enum(['production', 'sandbox', 'mydomain'])
      .default('production')
      .describe('Environment (Production, Sandbox, or the org’s My Domain URL; fixed once connected)'),
    myDomainUrl: z
      .string()
      .url({ error: 'Enter the My Domain URL, e.g. https://acme.my.salesforce.com.' })
      .refine((u) => u.startsWith('https://'), { error: 'The My Domain URL starts with https://.' })
      .optional()
      .describe('My Domain URL (https://<domain>.my.salesforce.com)'),
    orgId: z.string(connectFirst).regex(/^00D[A-Za-z0-9]{12}(?:[A-Za-z0-9]{3})?$/, {
      error: 'An org id starts with 00D and has 15 or 18 characters.',
    }),
    orgName: z.string().optional(),
    refreshToken: z.string().min(1).optional(),
    username: z.string().min(1).optional().describe('Integration username (JWT bearer flow)'),
    privateKey: z.string().min(1).optional().describe('Private key, PEM (JWT bearer flow)'),
  })
  .refine((s) => !!s.refreshToken || (!!s.username && !!s.privateKey), {
    error: 'Connect with Salesforce, or give the integration username and private key of the JWT bearer flow.',
    path: ['refreshToken'],
  })
  .refine((s) => s.environment !== 'mydomain' || !!s.myDomainUrl, {
    error: 'Enter the org’s My Domain URL.',
    path: ['myDomainUrl'],
  });

/**
 * A Salesforce plugin descriptor. The built-in one gets its connected app from the appliance
 * configuration through `configure`; tests may pass one (and connection options) directly.
 */
export function createSalesforcePlugin(
  fixed?: ServiceAppSettings,
  options: ConnectOptions = {},
): ServicePlugin<SalesforceSettings, SalesforceRunState> {
  let app: ServiceAppSettings = fixed ?? {};
  return {
    kind: SALESFORCE_KIND,
    label: 'Salesforce',
    settings: settings as unknown as z.ZodType<SalesforceSettings>,
    secretSettings: ['refreshToken', 'privateKey'],
    entityKinds: [
      { kind: 'data', label: 'Data' },
      { kind: 'metadata', label: 'Metadata' },
    ],
    apiUsageLimit: true,
    // Incremental and layered: a run stores only the records that changed and deletes the deleted.
    snapshots: { mode: 'incremental', layered: true },
    // The catalog has four search columns (name, path, author, modified): the object or metadata
    // type fills the path and the last modifier the author. Created-by needs a catalog column of
    // its own (not yet in the contract).
    searchFields: [
      { name: 'object', label: 'Object or metadata type', column: 'path' },
      { name: 'name', label: 'Name', column: 'name' },
      { name: 'updatedBy', label: 'Updated by (user id)', column: 'author' },
      { name: 'modified', label: 'Modified', column: 'modified' },
    ],
    configure(values) {
      if (!fixed) app = values;
    },
    oauth: {
      authorizationUrl: (input) => authorizationUrl(salesforceApp(app), input),
      exchangeCode: async (input, context) =>
        (await import('./oauth.ts')).exchangeCode(salesforceApp(app), input, context),
    },
    // A task stays with the org it was connected to: its objects and snapshots belong to that org.
    accountOf: (s) => ({ id: s.orgId, label: `the Salesforce org ${s.orgName ? `“${s.orgName}” ` : ''}(${s.orgId})` }),
    async connect(s, context) {
      const { connectSalesforce } = await import('./connection.ts');
      return connectSalesforce(salesforceApp(app), s, context, options);
    },
  };
}

const salesforcePlugin = createSalesforcePlugin();
export default salesforcePlugin;
