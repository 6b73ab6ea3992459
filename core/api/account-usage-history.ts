// Issue 20's account API beyond the organization itself: the monthly usage history billing
// prices (GET /organizations/{id}/usage-history: kept for the partner even after the customer
// removed its access, like the account's row and usage figures), the customer privacy option
// (PUT /organizations/{id}/partner-access, the customer's own administrators only), and the usage
// report mailed as a ZIP (POST /usage/mail).
import { createRoute, z } from '@hono/zod-openapi';
import type { MiddlewareHandler } from 'hono';
import { accessibleOrganization, holdsInPortal } from '../access/principal.ts';
import { NotFoundError } from '../errors.ts';
import { auditActor } from '../http/audit-actor.ts';
import type { AppDeps, AppEnv } from '../http/env.ts';
import { organizationOf, principalOf } from '../http/middleware.ts';
import { ORGANIZATION_STATUSES, Organization } from '../identity/entities.ts';
import { serviceLabel, usageSelection } from '../routes/portal-usage.ts';
import { kindLabeller } from '../routes/task-usage.ts';
import { BACKUP_STATUSES } from '../tenancy/account-health.ts';
import { setPartnerAccess } from '../tenancy/partner-access.ts';
import { usageHistory } from '../tenancy/usage-history.ts';
import { MAX_USAGE_RECIPIENTS, queueUsageReportMail, usageRecipients } from '../tenancy/usage-mail.ts';
import {
  inReach,
  jsonBody,
  jsonResponse,
  OrganizationIdParams,
  OrganizationSchema,
  organizationJson,
} from './common.ts';
import { createApiRouter, guarded, requirePrincipal, SECURED } from './router.ts';
import { errorResponses } from './schemas.ts';

const UsageMonthSchema = z
  .object({
    month: z.string().openapi({ example: '2026-12' }),
    days: z.number().int().openapi({ description: 'Days with a sample in the month.' }),
    maxProtected: z.number().int(),
    averageProtected: z.number(),
    maxStoredBytes: z.number(),
    averageStoredBytes: z.number(),
    maxLogicalBytes: z.number(),
    averageLogicalBytes: z.number(),
  })
  .openapi('UsageMonth');

const UsageHistorySchema = z
  .object({ organizationId: z.string(), months: z.array(UsageMonthSchema) })
  .openapi('UsageHistory');

/** The organization in the caller's portal, a customer that removed its partner's access included. */
const heldInPortal: MiddlewareHandler<AppEnv> = async (c, next) => {
  const id = c.req.param('id') ?? '';
  const org = id.length <= 36 ? await c.get('em').findOne(Organization, { id }) : null;
  if (!org || !holdsInPortal(principalOf(c), org)) throw new NotFoundError('There is no such organization.');
  await next();
};

const historyRoute = createRoute({
  method: 'get',
  path: '/organizations/{id}/usage-history',
  tags: ['Organizations'],
  summary: 'Monthly usage history of an account',
  description:
    'Per month (newest first, up to 24), over the daily samples of the organization and every account under it: the maximum and average protected entities, stored bytes (after dedup and compression) and logical bytes. What billing prices. Needs "View dashboard".',
  security: SECURED,
  middleware: [...guarded('view_dashboard'), heldInPortal],
  request: { params: OrganizationIdParams },
  responses: { 200: jsonResponse(UsageHistorySchema, 'The month summaries'), ...errorResponses(401, 403, 404) },
});

const partnerAccessRoute = createRoute({
  method: 'put',
  path: '/organizations/{id}/partner-access',
  tags: ['Organizations'],
  summary: "Remove or restore a customer partner's access",
  description:
    "The customer privacy option: `removed: true` leaves only the customer's own users able to reach its data; its partner keeps the account's row, status and usage. Only the customer account's own administrators (or a key they made with an administrator scope) decide, either way. Recorded in the security audit of the customer and of its partner.",
  security: SECURED,
  middleware: [requirePrincipal, inReach()],
  request: { params: OrganizationIdParams, ...jsonBody(z.object({ removed: z.boolean() }).openapi('PartnerAccess')) },
  responses: { 200: jsonResponse(OrganizationSchema, 'The organization'), ...errorResponses(401, 403, 404, 409, 422) },
});

const UsageMailSchema = z
  .object({
    account: z.array(z.string().max(36)).max(10_000).optional().openapi({
      description: 'Only these accounts (and the accounts under them). Overrides the filters.',
    }),
    q: z.string().max(200).optional(),
    kind: z.enum(['distributor', 'partner', 'customer']).optional(),
    status: z.enum(ORGANIZATION_STATUSES).optional(),
    backup: z.enum(BACKUP_STATUSES).optional(),
    all: z
      .boolean()
      .optional()
      .openapi({ description: 'Match accounts at every level, not only the direct children.' }),
    recipients: z
      .array(z.string().max(320))
      .max(MAX_USAGE_RECIPIENTS)
      .optional()
      .openapi({ description: 'Addresses to mail the report to; none: the caller (the key’s creator).' }),
  })
  .openapi('UsageMailRequest');

const usageMailRoute = createRoute({
  method: 'post',
  path: '/usage/mail',
  tags: ['Organizations'],
  summary: 'Mail the usage report of accounts as a ZIP',
  description:
    'The report of GET /usage, compressed into one ZIP and queued as mail to each recipient; the appliance’s mail sender delivers it with retries (it waits in the Outbox while no mail server is set). Needs "View dashboard".',
  security: SECURED,
  middleware: guarded('view_dashboard'),
  request: { ...jsonBody(UsageMailSchema) },
  responses: {
    202: jsonResponse(
      z
        .object({
          recipients: z.array(z.string()),
          fileName: z.string(),
          rows: z.number().int(),
          bytes: z.number().int(),
        })
        .openapi('UsageMailQueued'),
      'Queued',
    ),
    ...errorResponses(401, 403, 404, 422),
  },
});

export function accountUsageHistoryApi(deps: AppDeps) {
  const api = createApiRouter(deps);

  api.openapi(historyRoute, async (c) => {
    const em = c.get('em');
    const org = await em.findOneOrFail(Organization, { id: c.req.valid('param').id });
    return c.json({ organizationId: org.id, months: await usageHistory(em, org) }, 200);
  });

  api.openapi(partnerAccessRoute, async (c) => {
    const em = c.get('em');
    const principal = principalOf(c);
    const org = await accessibleOrganization(em, principal, c.req.valid('param').id);
    const { removed } = c.req.valid('json');
    await setPartnerAccess(em, principal, org, removed ? 'removed' : 'restored', auditActor(c, deps), deps.now());
    return c.json(organizationJson(org), 200);
  });

  api.openapi(usageMailRoute, async (c) => {
    const { account, recipients, all, ...filters } = c.req.valid('json');
    const principal = principalOf(c);
    const queued = await queueUsageReportMail(c.get('em'), {
      principal,
      current: organizationOf(c),
      selection: usageSelection(account ?? [], { ...filters, all: all ? '1' : undefined }),
      recipients: usageRecipients(principal, recipients ?? []),
      kindLabel: kindLabeller,
      serviceLabel,
      now: deps.now(),
    });
    return c.json(queued, 202);
  });

  return api;
}
