// REST API, version 1. Routes are declared with zod schemas; the OpenAPI 3.1 document at
// /api/v1/openapi.json is generated from them, and /api/v1/docs renders it for people.
import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi';
import { ForbiddenError } from '../access/errors.ts';
import type { AppDeps, AppEnv } from '../http/env.ts';
import { requireUser } from '../http/middleware.ts';
import { accountUsageHistoryApi } from './account-usage-history.ts';
import { activityApi } from './activity.ts';
import { apiKeysApi } from './api-keys.ts';
import { auditApi } from './audit.ts';
import { compareApi } from './compare.ts';
import { drillPolicyApi } from './drill-policy.ts';
import { integrationsApi } from './integrations.ts';
import { invoicesApi } from './invoices.ts';
import { ipRulesApi } from './ip-rules.ts';
import { jobsApi } from './jobs.ts';
import { notificationRecipientsApi } from './notification-recipients.ts';
import { oauthRoutes } from './oauth.ts';
import { organizationsApi } from './organizations.ts';
import { receivedInvoicesApi } from './received-invoices.ts';
import { recoveryApi } from './recovery.ts';
import { renderApiReference } from './reference.ts';
import { createApiRouter } from './router.ts';
import { errorResponses } from './schemas.ts';
import { smartAlertsApi } from './smart-alerts.ts';
import { ssoApi } from './sso.ts';
import { ssoDomainsApi } from './sso-domains.ts';
import { storageLocationsApi } from './storage-locations.ts';
import { storageVerificationApi } from './storage-verification.ts';
import { summaryReportSettingsApi } from './summary-report-settings.ts';
import { taskUsageApi } from './task-usage.ts';
import { tasksApi } from './tasks.ts';
import { usageApi } from './usage.ts';
import { usersApi } from './users.ts';
import { webhooksApi } from './webhooks.ts';

const StatusSchema = z
  .object({
    name: z.literal('holdfast'),
    version: z.string().openapi({ example: '0.1.0' }),
    setupRequired: z.boolean().openapi({ description: 'True until the first administrator has been created.' }),
    time: z.string().openapi({ format: 'date-time' }),
  })
  .openapi('Status');

const MeSchema = z
  .object({
    id: z.string(),
    email: z.string().openapi({ format: 'email' }),
    role: z.enum(['administrator', 'custom']),
    organization: z.object({
      id: z.string(),
      name: z.string(),
      kind: z.enum(['root', 'distributor', 'partner', 'customer']),
    }),
  })
  .openapi('CurrentUser');

const statusRoute = createRoute({
  method: 'get',
  path: '/status',
  tags: ['System'],
  summary: 'Appliance status',
  description: 'Version and whether first-run setup is still required. Needs no credentials.',
  responses: { 200: { description: 'Status', content: { 'application/json': { schema: StatusSchema } } } },
});

const meRoute = createRoute({
  method: 'get',
  path: '/me',
  tags: ['Identity'],
  summary: 'The signed-in user',
  description: 'The user of the current session and their organization (403 for API keys, which have no user).',
  responses: {
    200: { description: 'Current user', content: { 'application/json': { schema: MeSchema } } },
    ...errorResponses(401, 403),
  },
});

export function apiV1Routes(deps: AppDeps): OpenAPIHono<AppEnv> {
  const api = createApiRouter(deps);

  api.openapi(statusRoute, (c) =>
    c.json(
      {
        name: 'holdfast' as const,
        version: deps.version,
        setupRequired: !deps.setupState.complete,
        time: new Date().toISOString(),
      },
      200,
    ),
  );

  api.use('/me', requireUser(deps));
  api.openapi(meRoute, (c) => {
    const user = c.get('user');
    if (!user) throw new ForbiddenError('API keys have no user: read GET /organizations/{id} instead.');
    const org = user.organization;
    return c.json(
      { id: user.id, email: user.email, role: user.role, organization: { id: org.id, name: org.name, kind: org.kind } },
      200,
    );
  });

  api.route('/', oauthRoutes(deps));
  api.route('/', organizationsApi(deps));
  api.route('/', accountUsageHistoryApi(deps));
  api.route('/', ipRulesApi(deps));
  api.route('/', ssoApi(deps));
  api.route('/', ssoDomainsApi(deps));
  api.route('/', notificationRecipientsApi(deps));
  api.route('/', webhooksApi(deps));
  api.route('/', integrationsApi(deps));
  api.route('/', summaryReportSettingsApi(deps));
  api.route('/', auditApi(deps));
  api.route('/', activityApi(deps));
  api.route('/', apiKeysApi(deps));
  api.route('/', usersApi(deps));
  api.route('/', storageLocationsApi(deps));
  api.route('/', storageVerificationApi(deps));
  api.route('/', drillPolicyApi(deps));
  api.route('/', tasksApi(deps));
  api.route('/', jobsApi(deps));
  api.route('/', recoveryApi(deps));
  api.route('/', taskUsageApi(deps));
  api.route('/', usageApi(deps));
  api.route('/', smartAlertsApi(deps));
  api.route('/', compareApi(deps));
  api.route('/', invoicesApi(deps));
  api.route('/', receivedInvoicesApi(deps));

  // One document for the machine-readable file and the reference page.
  const documentHead = {
    openapi: '3.1.0',
    info: {
      title: 'Holdfast API',
      version: deps.version,
      description: 'Everything the Holdfast browser UI does, as JSON resources. Errors are `{error:{code,message}}`.',
    },
    servers: [{ url: '/api/v1' }],
  };
  api.doc31('/openapi.json', documentHead);

  api.get('/docs', (c) => renderApiReference(c, deps, api.getOpenAPI31Document(documentHead)));

  return api;
}
