// The API's access rules, one entry per operation of /api/v1/openapi.json, and the requests that
// aim every operation at one set of objects: shared by the probe script of issue 13
// (tests/integration/api/security-probes.test.ts) and the customer privacy option's test
// (tests/integration/partner-access.test.ts), so an operation added to the API is covered by both.

import { createApiKey } from '../../core/access/api-keys.ts';
import { principalForUser } from '../../core/access/principal.ts';
import { Invoice } from '../../core/billing/entities.ts';
import type { IOrganization, IUser } from '../../core/identity/entities.ts';
import type { Permission } from '../../core/identity/permissions.ts';
import { SsoDomain } from '../../core/identity/sso/entities.ts';
import { createProvider } from '../../core/identity/sso/providers.ts';
import { createIntegration } from '../../core/integrations/integrations.ts';
import { SmartAlertRule } from '../../core/smart-alerts/entities.ts';
import { StorageLocation } from '../../core/storage-locations/entities.ts';
import { createEndpoint } from '../../core/webhooks/endpoints.ts';
import { getTokens, json, makeTaskAndExport, withBearer } from './api.ts';
import { ORIGIN, type TestApp } from './kernel.ts';
import { makeUser } from './tenants.ts';

/** Who may call an operation: any of these permissions, administrators only, or anyone signed in. */
export type Rule = { anyOf: Permission[] } | 'administrator' | 'signed-in';

export interface Ids {
  org: string;
  rule: string;
  key: string;
  user: string;
  location: string;
  task: string;
  entity: string;
  job: string;
  recipient: string;
  webhook: string;
  integration: string;
  alert: string;
  invoice: string;
  ssoProvider: string;
  ssoDomain: string;
}

export interface Operation {
  rule: Rule;
  query?: (o: Ids) => Record<string, string>;
  body?: (o: Ids) => unknown;
}

const entities = (o: Ids) => ({ ids: [o.entity] });

export const OPERATIONS: Record<string, Operation> = {
  'GET /organizations/{id}': { rule: { anyOf: ['view_dashboard'] } },
  'PATCH /organizations/{id}': { rule: 'administrator', body: () => ({ name: 'Renamed by a probe' }) },
  'GET /organizations/{id}/children': { rule: { anyOf: ['view_dashboard'] } },
  'POST /organizations/{id}/children': {
    rule: { anyOf: ['add_accounts'] },
    body: () => ({ kind: 'customer', name: 'Planted account' }),
  },
  'PUT /organizations/{id}/removal': {
    rule: 'administrator',
    body: () => ({ confirmation: 'I approve the removal of my data' }),
  },
  'DELETE /organizations/{id}/removal': { rule: 'administrator' },
  'GET /organizations/{id}/usage-history': { rule: { anyOf: ['view_dashboard'] } },
  // Only a customer's own administrators decide; the probed partner is refused (403) either way.
  'PUT /organizations/{id}/partner-access': { rule: 'administrator', body: () => ({ removed: true }) },
  'GET /organizations/{id}/ip-rules': { rule: { anyOf: ['manage_security'] } },
  'POST /organizations/{id}/ip-rules': {
    rule: { anyOf: ['manage_security'] },
    body: () => ({ entries: ['10.9.9.9'] }),
  },
  'PATCH /organizations/{id}/ip-rules/{ruleId}': {
    rule: { anyOf: ['manage_security'] },
    body: () => ({ entries: ['10.9.9.8'] }),
  },
  'DELETE /organizations/{id}/ip-rules/{ruleId}': { rule: { anyOf: ['manage_security'] } },
  'PUT /organizations/{id}/ip-restrictions': { rule: { anyOf: ['manage_security'] }, body: () => ({ enabled: false }) },
  'GET /organizations/{id}/sso/domains': { rule: { anyOf: ['manage_security'] } },
  'POST /organizations/{id}/sso/domains': {
    rule: { anyOf: ['manage_security'] },
    body: () => ({ domain: `planted-${crypto.randomUUID().slice(0, 8)}.example` }),
  },
  // The probe's domain is verified already: verifying again answers it unchanged, without DNS.
  'POST /organizations/{id}/sso/domains/{domainId}/verify': { rule: { anyOf: ['manage_security'] } },
  'DELETE /organizations/{id}/sso/domains/{domainId}': { rule: { anyOf: ['manage_security'] } },
  'GET /organizations/{id}/sso/policy': { rule: { anyOf: ['manage_security'] } },
  'PUT /organizations/{id}/sso/policy': {
    rule: { anyOf: ['manage_security'] },
    body: () => ({ signInPolicy: 'password' }),
  },
  'GET /organizations/{id}/sso/providers': { rule: { anyOf: ['manage_security'] } },
  'POST /organizations/{id}/sso/providers': {
    rule: { anyOf: ['manage_security'] },
    body: () => ({
      name: 'Planted',
      settings: { preset: 'google', hostedDomain: 'probe.example', clientId: 'planted' },
    }),
  },
  'GET /organizations/{id}/sso/providers/{providerId}': { rule: { anyOf: ['manage_security'] } },
  'PATCH /organizations/{id}/sso/providers/{providerId}': {
    rule: { anyOf: ['manage_security'] },
    body: () => ({ name: 'Renamed by a probe' }),
  },
  'DELETE /organizations/{id}/sso/providers/{providerId}': { rule: { anyOf: ['manage_security'] } },
  'GET /organizations/{id}/notification-recipients': { rule: { anyOf: ['manage_notifications'] } },
  'POST /organizations/{id}/notification-recipients': {
    rule: { anyOf: ['manage_notifications'] },
    body: () => ({ email: 'planted@probe.example', types: ['exceptions'] }),
  },
  'PATCH /organizations/{id}/notification-recipients/{recipientId}': {
    rule: { anyOf: ['manage_notifications'] },
    body: () => ({ displayName: 'Renamed by a probe' }),
  },
  'DELETE /organizations/{id}/notification-recipients/{recipientId}': { rule: { anyOf: ['manage_notifications'] } },
  'GET /organizations/{id}/webhooks': { rule: { anyOf: ['manage_integrations'] } },
  'POST /organizations/{id}/webhooks': {
    rule: { anyOf: ['manage_integrations'] },
    body: () => ({ url: 'https://93.184.215.14/planted', events: ['exceptions'] }),
  },
  'GET /organizations/{id}/webhooks/{webhookId}': { rule: { anyOf: ['manage_integrations'] } },
  'PATCH /organizations/{id}/webhooks/{webhookId}': {
    rule: { anyOf: ['manage_integrations'] },
    body: () => ({ description: 'Renamed by a probe' }),
  },
  'DELETE /organizations/{id}/webhooks/{webhookId}': { rule: { anyOf: ['manage_integrations'] } },
  'GET /organizations/{id}/webhooks/{webhookId}/deliveries': { rule: { anyOf: ['manage_integrations'] } },
  'POST /organizations/{id}/webhooks/{webhookId}/test': { rule: { anyOf: ['manage_integrations'] } },
  'GET /organizations/{id}/integrations': { rule: { anyOf: ['manage_integrations'] } },
  'POST /organizations/{id}/integrations': {
    rule: { anyOf: ['manage_integrations'] },
    body: () => ({
      kind: 'splunk',
      streams: ['activity'],
      settings: { url: 'https://93.184.215.14/services/collector/event' },
      secret: 'planted-token',
    }),
  },
  'GET /organizations/{id}/integrations/{integrationId}': { rule: { anyOf: ['manage_integrations'] } },
  'PATCH /organizations/{id}/integrations/{integrationId}': {
    rule: { anyOf: ['manage_integrations'] },
    body: () => ({ enabled: false }),
  },
  'DELETE /organizations/{id}/integrations/{integrationId}': { rule: { anyOf: ['manage_integrations'] } },
  'POST /organizations/{id}/integrations/{integrationId}/test': { rule: { anyOf: ['manage_integrations'] } },
  // The probe's integration is Splunk: past the access rule, these answer 404 (no companies to map).
  'GET /organizations/{id}/integrations/{integrationId}/companies': { rule: { anyOf: ['manage_integrations'] } },
  'GET /organizations/{id}/integrations/{integrationId}/company-mappings': {
    rule: { anyOf: ['manage_integrations'] },
  },
  'PUT /organizations/{id}/integrations/{integrationId}/company-mappings/{accountId}': {
    rule: { anyOf: ['manage_integrations'] },
    body: () => ({ companyId: '174', companyName: 'Planted company' }),
  },
  'DELETE /organizations/{id}/integrations/{integrationId}/company-mappings/{accountId}': {
    rule: { anyOf: ['manage_integrations'] },
  },
  'GET /organizations/{id}/psa-companies': { rule: { anyOf: ['manage_integrations'] } },
  'GET /organizations/{id}/summary-report-settings': { rule: { anyOf: ['manage_notifications'] } },
  'PUT /organizations/{id}/summary-report-settings': {
    rule: { anyOf: ['manage_notifications'] },
    body: () => ({
      enabled: true,
      format: 'overview',
      delivery: 'link',
      frequency: 'daily',
      hour: 3,
      timeZone: 'UTC',
      onlyWhenFailed: false,
      split: 'consolidated',
    }),
  },
  'GET /audit': { rule: { anyOf: ['view_security_audit'] }, query: (o) => ({ organization: o.org }) },
  'GET /audit/export.csv': { rule: { anyOf: ['view_security_audit'] }, query: (o) => ({ organization: o.org }) },
  'GET /activity': { rule: { anyOf: ['view_activity'] }, query: (o) => ({ organization: o.org }) },
  'GET /activity/export.csv': { rule: { anyOf: ['view_activity'] }, query: (o) => ({ organization: o.org }) },
  'GET /organizations/{id}/api-keys': { rule: { anyOf: ['manage_integrations'] } },
  'POST /organizations/{id}/api-keys': { rule: { anyOf: ['manage_integrations'] } },
  'DELETE /organizations/{id}/api-keys/{clientId}': { rule: { anyOf: ['manage_integrations'] } },
  'GET /organizations/{id}/users': { rule: { anyOf: ['manage_users'] } },
  'POST /organizations/{id}/users': {
    rule: { anyOf: ['manage_users'] },
    body: () => ({ email: `planted-${crypto.randomUUID().slice(0, 8)}@probe.example`, role: 'custom' }),
  },
  'PATCH /organizations/{id}/users/{userId}': { rule: { anyOf: ['manage_users'] }, body: () => ({ displayName: 'P' }) },
  'DELETE /organizations/{id}/users/{userId}': { rule: { anyOf: ['manage_users'] } },
  'GET /organizations/{id}/storage-locations': { rule: 'signed-in' },
  'POST /organizations/{id}/storage-locations': {
    rule: 'administrator',
    body: () => ({ name: 'Planted', kind: 's3', settings: { bucket: 'b' } }),
  },
  'GET /organizations/{id}/storage-locations/{locationId}': { rule: 'signed-in' },
  'PATCH /organizations/{id}/storage-locations/{locationId}': { rule: 'administrator', body: () => ({ name: 'X' }) },
  'DELETE /organizations/{id}/storage-locations/{locationId}': { rule: 'administrator' },
  'POST /organizations/{id}/storage-locations/{locationId}/test': { rule: 'administrator' },
  'GET /organizations/{id}/storage-locations/{locationId}/verification': { rule: 'administrator' },
  'GET /organizations/{id}/drill-policy': { rule: 'signed-in' },
  'PUT /organizations/{id}/drill-policy': { rule: 'administrator', body: () => ({ intervalDays: 30 }) },
  'PUT /organizations/{id}/storage-locations/{locationId}/verification': {
    rule: 'administrator',
    body: () => ({ samplePercent: 50, intervalHours: 6 }),
  },
  'POST /organizations/{id}/storage-locations/{locationId}/verification/jobs': {
    rule: 'administrator',
    body: () => ({ operation: 'verify' }),
  },
  'GET /organizations/{id}/storage': { rule: 'signed-in' },
  'PUT /organizations/{id}/storage': { rule: 'administrator', body: () => ({ locationId: null }) },
  'GET /tasks': { rule: 'signed-in', query: (o) => ({ organization: o.org }) },
  'POST /tasks': {
    rule: { anyOf: ['manage_backups'] },
    query: (o) => ({ organization: o.org }),
    body: () => ({ service: 'test-service', name: 'Planted', connection: {} }),
  },
  'GET /tasks/{id}': { rule: 'signed-in' },
  'PATCH /tasks/{id}': { rule: { anyOf: ['manage_backups'] }, body: () => ({ name: 'Renamed by a probe' }) },
  'DELETE /tasks/{id}': { rule: { anyOf: ['manage_backups'] } },
  'POST /tasks/{id}/restore': { rule: { anyOf: ['manage_backups'] } },
  'POST /tasks/{id}/pause': { rule: { anyOf: ['manage_backups'] } },
  'POST /tasks/{id}/resume': { rule: { anyOf: ['manage_backups'] } },
  'PUT /tasks/{id}/connection': { rule: { anyOf: ['manage_backups'] }, body: () => ({ connection: { token: 'x' } }) },
  'POST /tasks/{id}/discover': { rule: { anyOf: ['manage_backups'] } },
  'POST /tasks/{id}/drills': { rule: { anyOf: ['manage_backups'] } },
  'GET /tasks/{id}/entities': { rule: 'signed-in' },
  'POST /tasks/{id}/entities/activate': { rule: { anyOf: ['manage_backups'] }, body: entities },
  'POST /tasks/{id}/entities/pause': { rule: { anyOf: ['manage_backups'] }, body: entities },
  'POST /tasks/{id}/entities/backup-now': { rule: { anyOf: ['manage_backups'] }, body: entities },
  'POST /tasks/{id}/entities/delete': { rule: { anyOf: ['manage_backups'] }, body: entities },
  'POST /tasks/{id}/entities/restore': { rule: { anyOf: ['manage_backups'] }, body: entities },
  'GET /tasks/{id}/chart': { rule: 'signed-in' },
  'GET /organizations/{id}/invoices': { rule: { anyOf: ['view_dashboard'] } },
  'GET /organizations/{id}/invoices.csv': { rule: { anyOf: ['view_dashboard'] } },
  'GET /organizations/{id}/invoice-lines.csv': { rule: { anyOf: ['view_dashboard'] } },
  'GET /organizations/{id}/invoices/{invoiceId}': { rule: { anyOf: ['view_dashboard'] } },
  'POST /organizations/{id}/invoices/{invoiceId}/issue': { rule: { anyOf: ['add_accounts'] } },
  'POST /organizations/{id}/invoices/{invoiceId}/paid': { rule: { anyOf: ['add_accounts'] } },
  'GET /organizations/{id}/received-invoices': { rule: { anyOf: ['view_dashboard'] } },
  'GET /organizations/{id}/received-invoices/{invoiceId}': { rule: { anyOf: ['view_dashboard'] } },
  'GET /organizations/{id}/received-invoices/{invoiceId}/pdf': { rule: { anyOf: ['view_dashboard'] } },
  'GET /tasks/{id}/entities/{entityId}/snapshots': { rule: { anyOf: ['restore', 'export_download'] } },
  'GET /tasks/{id}/entities/{entityId}/snapshots/{snapshotId}/items': {
    rule: { anyOf: ['restore', 'export_download'] },
  },
  'GET /tasks/{id}/entities/{entityId}/snapshots/{snapshotId}/item': {
    rule: { anyOf: ['restore', 'export_download'] },
    query: () => ({ key: 'a' }),
  },
  'GET /tasks/{id}/entities/{entityId}/items': {
    rule: { anyOf: ['restore', 'export_download'] },
    query: () => ({ name: 'a' }),
  },
  'GET /tasks/{id}/usage.csv': { rule: 'signed-in' },
  'GET /usage': { rule: { anyOf: ['view_dashboard'] }, query: (o) => ({ account: o.org }) },
  'POST /usage/mail': { rule: { anyOf: ['view_dashboard'] }, body: (o) => ({ account: [o.org] }) },
  'GET /tasks/{id}/smart-alerts': { rule: 'signed-in' },
  'POST /tasks/{id}/smart-alerts': {
    rule: { anyOf: ['manage_backups'] },
    body: () => ({ change: 'deleted', unit: 'count', threshold: 5, users: 'all' }),
  },
  'PATCH /tasks/{id}/smart-alerts/{alertId}': { rule: { anyOf: ['manage_backups'] }, body: () => ({ threshold: 7 }) },
  'DELETE /tasks/{id}/smart-alerts/{alertId}': { rule: { anyOf: ['manage_backups'] } },
  'GET /jobs': { rule: { anyOf: ['restore', 'export_download'] }, query: (o) => ({ task: o.task }) },
  'POST /jobs': {
    rule: { anyOf: ['export_download'] },
    body: (o) => ({ kind: 'export', taskId: o.task, entityId: o.entity, snapshotId: 'no-such-snapshot' }),
  },
  'GET /jobs/{id}': { rule: { anyOf: ['restore', 'export_download'] } },
  'POST /jobs/{id}/cancel': { rule: { anyOf: ['export_download'] } },
  'GET /jobs/{id}/download': { rule: { anyOf: ['export_download'] } },
  'POST /tasks/{id}/compare': {
    rule: { anyOf: ['export_download'] },
    // No right-side time: refused (422) after the access checks, so nothing is queued.
    body: () => ({ leftTime: '2026-01-01T00:00:00Z' }),
  },
  'GET /jobs/{id}/compare': { rule: { anyOf: ['export_download'] } },
};

/** Operations that address no tenant's object: no id to probe, and no permission. */
export const UNADDRESSED = new Set(['GET /status', 'GET /me', 'POST /oauth/token']);

export interface Probe {
  name: string;
  method: string;
  url: string;
  body?: unknown;
  rule: Rule;
}

/** Every documented operation aimed at one set of ids. */
export function probes(operations: readonly string[], o: Ids): Probe[] {
  return operations
    .filter((name) => !UNADDRESSED.has(name))
    .map((name) => {
      const [method, path] = name.split(' ') as [string, string];
      const op = OPERATIONS[name] as Operation;
      const idParam = path.startsWith('/tasks') ? o.task : path.startsWith('/jobs') ? o.job : o.org;
      const filled = path
        .replace('{id}', idParam)
        .replace('{ruleId}', o.rule)
        .replace('{providerId}', o.ssoProvider)
        .replace('{domainId}', o.ssoDomain)
        .replace('{recipientId}', o.recipient)
        .replace('{webhookId}', o.webhook)
        .replace('{integrationId}', o.integration)
        .replace('{accountId}', o.org)
        .replace('{alertId}', o.alert)
        .replace('{invoiceId}', o.invoice)
        .replace('{clientId}', o.key)
        .replace('{userId}', o.user)
        .replace('{locationId}', o.location)
        .replace('{entityId}', o.entity)
        // No snapshot is needed to probe the access rule: a missing one is a 404 after it.
        .replace('{snapshotId}', 'no-such-snapshot');
      const query = op.query ? `?${new URLSearchParams(op.query(o))}` : '';
      return { name, method, url: `/api/v1${filled}${query}`, body: op.body?.(o), rule: op.rule };
    });
}

export function init(probe: Probe, credential: { cookie?: string; token?: string }): RequestInit {
  const headers: Record<string, string> = credential.token
    ? { authorization: `Bearer ${credential.token}` }
    : { cookie: credential.cookie as string, origin: ORIGIN };
  if (probe.body !== undefined) headers['content-type'] = 'application/json';
  return {
    method: probe.method,
    headers,
    ...(probe.body === undefined ? {} : { body: JSON.stringify(probe.body) }),
  };
}

export function allows(rule: Rule, permission: Permission): boolean {
  if (rule === 'signed-in') return true;
  if (rule === 'administrator') return false;
  return rule.anyOf.includes(permission);
}

let probeInvoices = 0;

/** Fresh objects of every kind inside an organization, so destructive probes find something. */
export async function objectsOf(t: TestApp, org: IOrganization, results: string): Promise<Ids> {
  const em = () => t.kernel.orm.em.fork();
  const e = em();
  const admin = await makeUser(e, org, `admin-${crypto.randomUUID().slice(0, 8)}@probe.example`);
  const user = await makeUser(e, org, `user-${crypto.randomUUID().slice(0, 8)}@probe.example`, {
    role: 'custom',
    permissions: ['view_dashboard'],
  });
  const { key } = await createApiKey(e, e.merge(org), principalForUser(admin), { label: admin.email });
  const location = e.create(StorageLocation, {
    organization: org.id,
    name: `Bucket ${crypto.randomUUID().slice(0, 8)}`,
    kind: 's3',
    settings: { endpoint: 'http://127.0.0.1:9', bucket: 'b', accessKeyId: 'k', forcePathStyle: true },
    sealedSecrets: null,
  });
  await e.flush();
  const rule = await json(
    await t.app.request(
      `/api/v1/organizations/${org.id}/ip-rules`,
      withBearer(await adminToken(t, admin, org), 'POST', { entries: ['10.1.1.1'] }),
    ),
  );
  const recipient = await json(
    await t.app.request(
      `/api/v1/organizations/${org.id}/notification-recipients`,
      withBearer(await adminToken(t, admin, org), 'POST', {
        email: `ops-${crypto.randomUUID().slice(0, 8)}@probe.example`,
        types: ['exceptions'],
      }),
    ),
  );
  // Saved as an operator allowing private addresses would; this app does not, so a test event
  // is refused before any connection.
  const { endpoint: webhook } = await createEndpoint(
    em(),
    t.kernel.credentials,
    org,
    { url: 'http://127.0.0.1:9/hook', events: ['exceptions'] },
    { allowPrivate: true },
    new Date(),
  );
  // Like the webhook: a collector on loopback, so a test event is refused before any connection.
  const integration = await createIntegration(
    em(),
    t.kernel.credentials,
    org,
    {
      kind: 'splunk',
      streams: ['activity'],
      settings: { url: 'http://127.0.0.1:9/services/collector/event' },
      secret: 'probe-token',
    },
    { allowPrivate: true },
    { label: 'probe' },
    new Date(),
  );
  const ssoProvider = await createProvider(
    e,
    e.merge(org),
    { name: 'Probe IdP', settings: { preset: 'google', hostedDomain: 'probe.example', clientId: 'probe' } },
    t.kernel.credentials,
    false,
  );
  const ssoDomain = e.create(SsoDomain, {
    organization: org.id,
    domain: `probe-${crypto.randomUUID().slice(0, 8)}.example`,
    token: 'probe',
    verifiedAt: new Date(),
    verifiedBy: 'dns',
    createdAt: new Date(),
  });
  const { task, entity, job } = await makeTaskAndExport(t, org.id, results);
  // Made directly: the test service offers no smart alerts (adding one through the API is a 409).
  const alert = e.create(SmartAlertRule, {
    task,
    entityExternalId: null,
    change: 'deleted',
    unit: 'count',
    threshold: 5,
    users: 'all',
    createdAt: new Date(),
  });
  // A draft invoice the organization issued to itself (the account does not matter to the access
  // rule), of a month of its own: one invoice per account and month.
  const invoice = e.create(Invoice, {
    issuer: org.id,
    account: org.id,
    period: `${2000 + ++probeInvoices}-11`,
    planName: 'Probe plan',
    currency: 'EUR',
    subtotalCents: 100,
    taxRateBasisPoints: 0,
    taxCents: 0,
    totalCents: 100,
    billableDays: 30,
    monthDays: 30,
    createdAt: new Date(),
  });
  await e.flush();
  return {
    org: org.id,
    rule: rule.id,
    key: key.id,
    user: user.id,
    location: location.id,
    task,
    entity,
    job,
    recipient: String(recipient.id),
    webhook: webhook.id,
    integration: integration.id,
    alert: String(alert.id),
    invoice: invoice.id,
    ssoProvider: ssoProvider.id,
    ssoDomain: ssoDomain.id,
  };
}

export async function adminToken(t: TestApp, admin: IUser, org: IOrganization): Promise<string> {
  const e = t.kernel.orm.em.fork();
  const made = await createApiKey(e, e.merge(org), principalForUser(admin), { label: admin.email });
  return (await getTokens(t.app, { clientId: made.key.id, secret: made.secret })).access_token;
}

/** Everything a probe might change, as one comparable value. */
export async function snapshot(t: TestApp): Promise<string> {
  const conn = t.kernel.orm.em.fork().getConnection();
  const tables: Record<string, string> = {
    organizations:
      'id, name, status, ip_restrictions_enabled, contact_email, address, country, partner_access_removed_at, sign_in_policy, sso_break_glass_user_id',
    ip_rules: 'id, entries',
    sso_providers: 'id, name, enabled, settings, secrets_sealed',
    sso_domains: 'id, domain, verified_at',
    notification_recipients: 'id, email, display_name, types',
    webhook_endpoints: 'id, url, description, events',
    webhook_deliveries: 'id, status, attempts',
    integrations: 'id, enabled, settings, secret_sealed, streams',
    summary_report_settings: 'id, organization_id, enabled, delivery, hour',
    api_keys: 'id, role, permissions',
    users: 'id, email, display_name, role, permissions, accessible_accounts, status',
    storage_locations: 'id, name, settings',
    organization_storage: 'organization_id, location_id',
    backup_tasks: 'id, name, status, deleted_at',
    task_entities: 'id, status, deleted_at',
    jobs: 'id, state, cancel_requested_at',
    export_results: 'id, downloads',
    mail_messages: 'id',
    invoices: 'id, status, number, paid_at',
  };
  const out: Record<string, unknown> = {};
  for (const [table, columns] of Object.entries(tables)) {
    out[table] = await conn.execute(`select ${columns} from ${table} order by 1`);
  }
  return JSON.stringify(out);
}
