// Tenant isolation, route by route. Every route of the app is enumerated from the router, so a
// route added later is covered (or fails here until this file says how to address it):
// - unauthenticated callers get 401 (API) or are sent to sign in (browser), and change nothing;
// - an administrator of one partner, given the ids of objects of a sibling partner, of another
//   tenant's customer and of the parent, gets 404 everywhere and changes nothing;
// - a Custom user without the guarding permission gets 403.

import { createHash } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiKey, IpRule } from '../../../core/access/entities.ts';
import { ActivityEvent } from '../../../core/activity/entities.ts';
import { Invoice, PricePlan } from '../../../core/billing/entities.ts';
import { type IOrganization, Organization, User } from '../../../core/identity/entities.ts';
import type { Permission } from '../../../core/identity/permissions.ts';
import { addDomain } from '../../../core/identity/sso/domains.ts';
import { createProvider } from '../../../core/identity/sso/providers.ts';
import { Integration } from '../../../core/integrations/entities.ts';
import { Job } from '../../../core/jobs/entities.ts';
import { enqueueJob } from '../../../core/jobs/queue.ts';
import { NotificationRecipient } from '../../../core/notifications/entities.ts';
import { SummaryReport } from '../../../core/notifications/summary-entities.ts';
import { ExportResult } from '../../../core/recovery/entities.ts';
import { StorageLocation } from '../../../core/storage-locations/entities.ts';
import { BackupTask } from '../../../core/tasks/entities.ts';
import { WebhookEndpoint } from '../../../core/webhooks/entities.ts';
import { completeSetupVia, createTestApp, ORIGIN, signIn, type TestApp } from '../../helpers/kernel.ts';
import { appRoutes, concrete, ID_KINDS, type IdKind, PUBLIC } from '../../helpers/page-routes.ts';
import { makeOrganization, makeUser, rootOf, TEST_PASSWORD } from '../../helpers/tenants.ts';

/** The permission guarding each area (a Custom user without it gets 403); a method narrows it to that method. */
const GUARDS: [RegExp, Permission, string?][] = [
  [/^\/settings\/users/, 'manage_users'],
  [/^\/settings\/ip-restrictions/, 'manage_security'],
  [/^\/settings\/notifications/, 'manage_notifications'],
  [/^\/settings\/security\/policies/, 'manage_security'],
  [/^\/settings\/api/, 'manage_integrations'],
  [/^\/settings\/webhooks/, 'manage_integrations'],
  [/^\/settings\/integrations/, 'manage_integrations'],
  [/^\/activity\/security-audit/, 'view_security_audit'],
  [/^\/activity(\/export\.csv|\/events\/|$)/, 'view_activity'],
  [/^\/api\/v1\/activity/, 'view_activity'],
  [/^\/portal\/new/, 'add_accounts'],
  [/^\/portal\/bulk/, 'add_accounts'],
  [/^\/recovery/, 'restore'],
  [/^\/tasks\/new$/, 'manage_backups'],
  [/^\/tasks\/oauth\/callback$/, 'manage_backups'],
  [/^\/tasks\/:id\/(settings|reconnect|delete|restore|pause|resume|discover|actions)$/, 'manage_backups'],
  [/^\/api\/v1\/tasks$/, 'manage_backups', 'POST'],
  [/^\/api\/v1\/tasks\/:id$/, 'manage_backups', 'PATCH'],
  [/^\/api\/v1\/tasks\/:id$/, 'manage_backups', 'DELETE'],
  [/^\/api\/v1\/tasks\/:id\/(restore|pause|resume|connection|discover|entities\/[a-z-]+)$/, 'manage_backups'],
  [/^\/jobs/, 'restore'],
  [/^\/api\/v1\/jobs/, 'restore'],
];

interface Route {
  method: string;
  path: string;
}

let t: TestApp;
let root: IOrganization;
let home: IOrganization;
let sibling: IOrganization;
let siblingCustomer: IOrganization;
const foreign: Record<IdKind, string[]> = {
  user: [],
  ipRule: [],
  organization: [],
  apiKey: [],
  storageLocation: [],
  task: [],
  activity: [],
  job: [],
  recipient: [],
  summaryReport: [],
  webhook: [],
  integration: [],
  // Kinds are no tenant's: an unknown one is the 404 to check.
  integrationKind: ['no-such-kind'],
  invoice: [],
  plan: [],
  ssoProvider: [],
  ssoDomain: [],
};
let adminCookie: string;
let customCookie: string;
let routes: Route[];

const em = (): EntityManager => t.kernel.orm.em.fork();

async function fingerprint(): Promise<string> {
  const e = em();
  const parts = await Promise.all([
    e.find(Organization, {}, { orderBy: { id: 'asc' } }),
    e.find(User, {}, { orderBy: { id: 'asc' } }),
    e.find(IpRule, {}, { orderBy: { id: 'asc' } }),
    e.find(ApiKey, {}, { orderBy: { id: 'asc' } }),
    e.find(StorageLocation, {}, { orderBy: { id: 'asc' } }),
    e.find(BackupTask, {}, { orderBy: { id: 'asc' } }),
    e.find(ActivityEvent, {}, { orderBy: { id: 'asc' } }),
    e.find(Job, {}, { orderBy: { id: 'asc' } }),
    e.find(ExportResult, {}, { orderBy: { id: 'asc' } }),
    e.find(NotificationRecipient, {}, { orderBy: { id: 'asc' } }),
    e.find(Integration, {}, { orderBy: { id: 'asc' } }),
  ]);
  const plain = parts.map((rows) =>
    rows.map((r) => JSON.stringify(r, (k, v) => (k === 'lastLoginAt' || k === 'lastUsedAt' ? undefined : v))),
  );
  return createHash('sha256').update(JSON.stringify(plain)).digest('hex');
}

function isApi(path: string): boolean {
  return path.startsWith('/api/');
}

async function call(route: Route, path: string, cookie?: string): Promise<Response> {
  const headers: Record<string, string> = { origin: ORIGIN };
  if (cookie) headers.cookie = cookie;
  if (route.method === 'GET') return t.app.request(path, { headers });
  if (isApi(path)) {
    return t.app.request(path, {
      method: route.method,
      headers: { ...headers, 'content-type': 'application/json' },
      body: JSON.stringify({
        name: 'Changed',
        email: 'changed@x.example',
        role: 'administrator',
        addresses: '0.0.0.0/0',
      }),
    });
  }
  return t.app.request(path, {
    method: route.method,
    headers: { ...headers, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      name: 'Changed',
      email: 'changed@x.example',
      role: 'administrator',
      addresses: '0.0.0.0/0',
      approve: 'yes',
      enabled: 'on',
    }).toString(),
  });
}

beforeAll(async () => {
  t = await createTestApp();
  await completeSetupVia(t.app);
  const e = em();
  root = await rootOf(e);
  home = await makeOrganization(e, root, 'partner', 'Home Partner');
  await makeOrganization(e, home, 'customer', 'Home Customer');
  sibling = await makeOrganization(e, root, 'partner', 'Sibling Partner');
  siblingCustomer = await makeOrganization(e, sibling, 'customer', 'Sibling Customer');
  const distributor = await makeOrganization(e, root, 'distributor', 'Other Distributor');
  const otherCustomer = await makeOrganization(e, distributor, 'customer', 'Other Tenant');
  await makeUser(e, home, 'admin@home.example');
  await makeUser(e, home, 'custom@home.example', { role: 'custom', permissions: [] });
  for (const org of [sibling, siblingCustomer, otherCustomer, root]) {
    const user = await makeUser(e, org, `user-${org.id.slice(0, 8)}@foreign.example`, { role: 'custom' });
    const rule = e.create(IpRule, { organization: org, description: 'Foreign', entries: ['192.0.2.1'] });
    const recipient = e.create(NotificationRecipient, {
      organization: org,
      email: 'noc@foreign.example',
      emailKey: 'noc@foreign.example',
      displayName: 'Foreign NOC',
      types: ['exceptions'],
      createdAt: new Date(),
    });
    const key = e.create(ApiKey, {
      id: `hfk_${org.id.slice(0, 12)}`,
      organization: org,
      secretHash: 'x'.repeat(64),
      createdByEmail: 'someone@foreign.example',
    });
    // Another organization's location (the root's is offered to the partner, but not its to change).
    const location = e.create(StorageLocation, {
      organization: org,
      name: 'Foreign storage',
      kind: 'local',
      settings: { path: '/nonexistent/foreign' },
      sealedSecrets: null,
      description: null,
      lastTestedAt: null,
      lastTestOk: null,
      lastTestSentence: null,
      lastTestDetail: null,
    });
    // A bare task row: routes must refuse it by organization before anything reads its connection.
    const task = e.create(BackupTask, {
      organization: org,
      service: 'test-service',
      name: 'Foreign task',
      connection: 'not-a-sealed-connection',
    });
    // A System Activity row of that organization.
    const activity = e.create(ActivityEvent, {
      at: new Date(),
      organization: org,
      activity: 'Backup',
      status: 'succeeded',
      summary: 'Foreign run',
    });
    await e.flush();
    foreign.activity.push(String(activity.id));
    // A finished export with a result file of its own: cancel and download must not reach it.
    const jobId = await enqueueJob(
      e,
      {
        organizationId: org.id,
        kind: 'export',
        label: 'Foreign export',
        taskId: task.id,
        initiator: { kind: 'user', label: 'someone@foreign.example' },
        maxAttempts: 1,
      },
      new Date(),
    );
    e.create(ExportResult, {
      organization: org,
      job: jobId,
      fileName: 'foreign.zip',
      filePath: '/nonexistent/foreign.zip',
      size: 1,
      format: 'zip',
      encryption: 'none',
      createdAt: new Date(),
      expiresAt: new Date(Date.now() + 86_400_000),
      deletedAt: null,
      downloads: 0,
      lastDownloadedAt: null,
    });
    await e.flush();
    foreign.job.push(jobId);
    foreign.task.push(task.id);
    foreign.storageLocation.push(location.id);
    foreign.user.push(user.id);
    foreign.ipRule.push(rule.id);
    foreign.recipient.push(String(recipient.id));
    // A summary report of that organization (its link also needs a token; the tenant check comes first).
    const report = e.create(SummaryReport, {
      id: crypto.randomUUID(),
      organization: org,
      period: 'd:2026-01-01',
      fileName: 'foreign.csv',
      csv: 'Organization\r\n',
      tokenHash: 'f'.repeat(64),
      createdAt: new Date(),
      expiresAt: new Date(Date.now() + 86_400_000),
    });
    await e.flush();
    foreign.summaryReport.push(report.id);
    // A webhook endpoint of that organization (its secret is never read before the tenant check).
    const endpoint = e.create(WebhookEndpoint, {
      organization: org,
      url: 'https://hooks.foreign.example/in',
      description: 'Foreign endpoint',
      events: ['exceptions'],
      secretSealed: 'not-sealed',
      createdAt: new Date(),
    });
    await e.flush();
    foreign.webhook.push(endpoint.id);
    // An integration of that organization (its secret is never read before the tenant check).
    const integration = e.create(Integration, {
      organization: org,
      kind: 'splunk',
      enabled: true,
      settings: { url: 'https://splunk.foreign.example/services/collector/event' },
      secretSealed: 'not-sealed',
      streams: ['activity'],
      cursor: { activity: 0, audit: 0 },
      createdAt: new Date(),
      updatedAt: new Date(),
    });
    await e.flush();
    foreign.integration.push(integration.id);
    // A price plan and an invoice that organization issued (MSP billing).
    const plan = e.create(PricePlan, {
      issuer: org,
      name: 'Foreign plan',
      currency: 'EUR',
      period: 'monthly',
      meters: [{ meter: 'protected', measure: 'max', tiers: [{ upTo: null, unitCents: 100 }] }],
      createdAt: new Date(),
      updatedAt: new Date(),
    });
    const invoice = e.create(Invoice, {
      issuer: org,
      account: org,
      period: '2026-11',
      planName: 'Foreign plan',
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
    foreign.plan.push(String(plan.id));
    foreign.invoice.push(invoice.id);
    // An identity provider and an e-mail domain of that organization.
    const provider = await createProvider(
      e,
      org,
      { name: 'Foreign IdP', settings: { preset: 'google', hostedDomain: 'foreign.example', clientId: 'foreign' } },
      t.kernel.credentials,
      false,
    );
    foreign.ssoProvider.push(provider.id);
    foreign.ssoDomain.push((await addDomain(e, org, `d${foreign.ssoDomain.length}.foreign.example`, new Date())).id);
    foreign.apiKey.push(key.id);
    foreign.organization.push(org.id);
  }
  // Invoices addressed to others are readable by their recipient only once issued: the parent's
  // issued invoice to the sibling, and the parent's draft addressed to the home partner itself.
  for (const [account, status] of [
    [sibling, 'issued'],
    [home, 'draft'],
  ] as const) {
    const addressed = e.create(Invoice, {
      issuer: root,
      account,
      period: '2026-10',
      planName: 'Wholesale',
      currency: 'EUR',
      status,
      sequence: status === 'issued' ? 1 : null,
      number: status === 'issued' ? 'ROOT-2026-00001' : null,
      subtotalCents: 100,
      taxRateBasisPoints: 0,
      taxCents: 0,
      totalCents: 100,
      billableDays: 30,
      monthDays: 30,
      createdAt: new Date(),
      issuedAt: status === 'issued' ? new Date() : null,
      dueAt: status === 'issued' ? new Date() : null,
    });
    await e.flush();
    foreign.invoice.push(addressed.id);
  }
  adminCookie = await signIn(t.app, 'admin@home.example', TEST_PASSWORD);
  customCookie = await signIn(t.app, 'custom@home.example', TEST_PASSWORD);
  routes = appRoutes(t.app);
}, 60_000);

afterAll(async () => {
  await t.close();
});

describe('tenant isolation of every route', () => {
  it('sends unauthenticated callers to sign in (401 on the API) and changes nothing', async () => {
    const before = await fingerprint();
    const checked: string[] = [];
    for (const route of routes) {
      if (PUBLIC.some((p) => p.test(route.path))) continue;
      const path = concrete(route, foreign.organization[0] as string);
      const res = await call(route, path);
      if (isApi(path)) expect(res.status, `${route.method} ${path}`).toBe(401);
      else {
        expect(res.status, `${route.method} ${path}`).toBe(303);
        expect(res.headers.get('location'), `${route.method} ${path}`).toMatch(/^\/login/);
      }
      checked.push(`${route.method} ${route.path}`);
    }
    expect(checked.length).toBeGreaterThan(20);
    expect(await fingerprint()).toBe(before);
  });

  it("answers 404 for a sibling partner's, another tenant's and the parent's objects, changing nothing", async () => {
    const before = await fingerprint();
    let tried = 0;
    for (const route of routes.filter((r) => /:[A-Za-z]/.test(r.path))) {
      if (PUBLIC.some((p) => p.test(route.path))) continue;
      const kind = ID_KINDS.find(([pattern]) => pattern.test(route.path))?.[1];
      expect(kind, `no id kind known for ${route.method} ${route.path}: add it to ID_KINDS`).toBeDefined();
      for (const id of foreign[kind as IdKind]) {
        const path = concrete(route, id);
        const res = await call(route, path, adminCookie);
        expect(res.status, `${route.method} ${path}`).toBe(404);
        tried++;
      }
    }
    expect(tried).toBeGreaterThan(20);
    expect(await fingerprint()).toBe(before);
    // Every route with an id, once per foreign object, one after another: a ceiling for a busy
    // 2-core machine (12 s on SQLite and over 30 s on PostgreSQL at load ~28), not an estimate.
  }, 120_000);

  it('refuses Custom users without the guarding permission with 403', async () => {
    const before = await fingerprint();
    let tried = 0;
    for (const route of routes) {
      const guard = GUARDS.find(
        ([pattern, , method]) => pattern.test(route.path) && (!method || method === route.method),
      );
      if (!guard) continue;
      const path = concrete(route, foreign.organization[0] as string);
      const res = await call(route, path, customCookie);
      expect(res.status, `${route.method} ${path} needs ${guard[1]}`).toBe(403);
      tried++;
    }
    expect(tried).toBeGreaterThan(10);
    expect(await fingerprint()).toBe(before);
  });
});
