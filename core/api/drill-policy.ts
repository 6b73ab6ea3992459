// /api/v1/organizations/{id}/drill-policy: an account's restore drill policy (core/drills/drill-policy.ts)
// — what applies and where it comes from; administrators set every N days, 0 for none, or null to
// inherit from the portal above or the appliance.
import { createRoute, z } from '@hono/zod-openapi';
import type { MiddlewareHandler } from 'hono';
import { ForbiddenError } from '../access/errors.ts';
import { accessibleOrganization } from '../access/principal.ts';
import { recordAudit } from '../audit/audit-service.ts';
import { drillPolicies, effectivePolicy, MAX_DRILL_INTERVAL_DAYS, setDrillPolicy } from '../drills/drill-policy.ts';
import { auditActorOf } from '../http/audit-actor.ts';
import type { AppDeps, AppEnv } from '../http/env.ts';
import { principalOf } from '../http/middleware.ts';
import type { IOrganization } from '../identity/entities.ts';
import { inReach, jsonBody, jsonResponse, OrganizationIdParams } from './common.ts';
import { createApiRouter, requirePrincipal, SECURED } from './router.ts';
import { errorResponses } from './schemas.ts';

const DrillPolicySchema = z
  .object({
    intervalDays: z.number().int().nullable().openapi({ description: 'This account’s own setting; null: inherited.' }),
    effectiveDays: z.number().int().openapi({ description: 'Days between scheduled drills that apply; 0: none.' }),
    source: z.enum(['own', 'inherited', 'appliance']),
    fromId: z.string().nullable().openapi({ description: 'The organization whose policy applies.' }),
  })
  .openapi('DrillPolicy');

const DrillPolicyChangeSchema = z
  .object({
    intervalDays: z.number().int().min(0).max(MAX_DRILL_INTERVAL_DAYS).nullable().openapi({ example: 14 }),
  })
  .openapi('DrillPolicyChange');

const tags = ['Restore drills'];
const adminOnly: MiddlewareHandler<AppEnv> = async (c, next) => {
  if (!principalOf(c).isAdministrator)
    throw new ForbiddenError('Only administrators can change the restore drill policy.');
  await next();
};

const getRoute = createRoute({
  method: 'get',
  path: '/organizations/{id}/drill-policy',
  tags,
  summary: 'Get the restore drill policy of an account',
  description: 'How often its tasks’ restore drills run, and whether that is its own setting or inherited.',
  security: SECURED,
  middleware: [requirePrincipal, inReach()],
  request: { params: OrganizationIdParams },
  responses: { 200: jsonResponse(DrillPolicySchema, 'Policy'), ...errorResponses(401, 404) },
});

const putRoute = createRoute({
  method: 'put',
  path: '/organizations/{id}/drill-policy',
  tags,
  summary: 'Set the restore drill policy of an account',
  description:
    'Every intervalDays days (0: no scheduled drills) for the account and the accounts below it that set none; null inherits.',
  security: SECURED,
  middleware: [requirePrincipal, adminOnly, inReach()],
  request: { params: OrganizationIdParams, ...jsonBody(DrillPolicyChangeSchema) },
  responses: { 200: jsonResponse(DrillPolicySchema, 'Saved'), ...errorResponses(401, 403, 404, 422) },
});

export function drillPolicyApi(deps: AppDeps) {
  const api = createApiRouter(deps);
  const policyJson = async (em: Parameters<typeof drillPolicies>[0], org: IOrganization) => {
    const policies = await drillPolicies(em);
    const effective = effectivePolicy(policies, org, deps.config.drillIntervalDays);
    return {
      intervalDays: policies.get(org.id) ?? null,
      effectiveDays: effective.days,
      source: effective.source,
      fromId: effective.fromId,
    };
  };

  api.openapi(getRoute, async (c) => {
    const org = await accessibleOrganization(c.get('em'), principalOf(c), c.req.valid('param').id);
    return c.json(await policyJson(c.get('em'), org), 200);
  });

  api.openapi(putRoute, async (c) => {
    const em = c.get('em');
    const org = await accessibleOrganization(em, principalOf(c), c.req.valid('param').id);
    const days = c.req.valid('json').intervalDays;
    await setDrillPolicy(em, org, days);
    await recordAudit(em, {
      organization: org,
      activity: 'Settings changed',
      account: org.name,
      description:
        days === null
          ? 'Restore drill policy: inherited'
          : `Restore drill policy: ${days === 0 ? 'no scheduled drills' : `every ${days} day(s)`}`,
      actor: auditActorOf(c, deps),
    });
    return c.json(await policyJson(em, org), 200);
  });

  return api;
}
