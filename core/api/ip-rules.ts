// /api/v1/organizations/{id}/ip-rules and /ip-restrictions: trusted addresses of an
// organization and the switch that enforces them. Needs "Manage security". Each change is
// audited and mailed to the organization's administrators.
import { createRoute, z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import type { IIpRule } from '../access/entities.ts';
import { recordIpRestrictionChange } from '../access/ip-change-notice.ts';
import {
  addIpRule,
  deleteIpRule,
  findIpRule,
  listIpRules,
  MAX_ENTRIES_PER_RULE,
  setIpRestrictions,
  updateIpRule,
} from '../access/ip-rules.ts';
import { accessibleOrganization } from '../access/principal.ts';
import { auditActor } from '../http/audit-actor.ts';
import { clientIp } from '../http/client.ts';
import type { AppDeps, AppEnv } from '../http/env.ts';
import { principalOf } from '../http/middleware.ts';
import type { IOrganization } from '../identity/entities.ts';
import { inReach, jsonBody, jsonResponse, OrganizationIdParams } from './common.ts';
import { createApiRouter, guarded, SECURED } from './router.ts';
import { errorResponses } from './schemas.ts';

const IpRuleSchema = z
  .object({
    id: z.string(),
    description: z.string().nullable(),
    entries: z.array(z.string()).openapi({ description: 'Addresses, CIDR blocks or from-to ranges, normalized.' }),
    createdAt: z.string().openapi({ format: 'date-time' }),
    updatedAt: z.string().openapi({ format: 'date-time' }),
  })
  .openapi('IpRule');

const IpRestrictionsSchema = z
  .object({
    enabled: z.boolean().openapi({ description: 'Whether users of the organization are held to the rules.' }),
    rules: z.array(IpRuleSchema),
  })
  .openapi('IpRestrictions');

const entriesField = z
  .array(z.string().max(100))
  .min(1)
  .max(MAX_ENTRIES_PER_RULE)
  .openapi({ example: ['203.0.113.7', '198.51.100.0/24', '2001:db8::1-2001:db8::ff'] });

const NewIpRuleSchema = z
  .object({ description: z.string().max(200).nullable().optional(), entries: entriesField })
  .openapi('NewIpRule');
const IpRuleChangesSchema = z
  .object({ description: z.string().max(200).nullable().optional(), entries: entriesField.optional() })
  .openapi('IpRuleChanges');
const SwitchSchema = z.object({ enabled: z.boolean() }).openapi('IpRestrictionsSwitch');

const RuleParams = OrganizationIdParams.extend({
  ruleId: z
    .string()
    .max(36)
    .openapi({ param: { name: 'ruleId', in: 'path' } }),
});

const tags = ['IP restrictions'];
const middleware = [...guarded('manage_security'), inReach()];
const ruleMiddleware = [
  ...guarded('manage_security'),
  inReach((em, org, c) => findIpRule(em, org, c.req.param('ruleId') ?? '')),
];

const listRoute = createRoute({
  method: 'get',
  path: '/organizations/{id}/ip-rules',
  tags,
  summary: 'List IP rules',
  description: 'The trusted-address rules of an organization and whether they are enforced.',
  security: SECURED,
  middleware,
  request: { params: OrganizationIdParams },
  responses: { 200: jsonResponse(IpRestrictionsSchema, 'Rules'), ...errorResponses(401, 403, 404) },
});

const addRoute = createRoute({
  method: 'post',
  path: '/organizations/{id}/ip-rules',
  tags,
  summary: 'Add an IP rule',
  description: 'Entries are IPv4 or IPv6 addresses, CIDR blocks, or from-to ranges.',
  security: SECURED,
  middleware,
  request: { params: OrganizationIdParams, ...jsonBody(NewIpRuleSchema) },
  responses: { 201: jsonResponse(IpRuleSchema, 'The new rule'), ...errorResponses(401, 403, 404, 422) },
});

const updateRoute = createRoute({
  method: 'patch',
  path: '/organizations/{id}/ip-rules/{ruleId}',
  tags,
  summary: 'Change an IP rule',
  description:
    "Fields left out keep their value. While restrictions are enforced, a change that would no longer trust the caller's own address is refused (409).",
  security: SECURED,
  middleware: ruleMiddleware,
  request: { params: RuleParams, ...jsonBody(IpRuleChangesSchema) },
  responses: { 200: jsonResponse(IpRuleSchema, 'The rule'), ...errorResponses(401, 403, 404, 409, 422) },
});

const deleteRoute = createRoute({
  method: 'delete',
  path: '/organizations/{id}/ip-rules/{ruleId}',
  tags,
  summary: 'Delete an IP rule',
  description:
    "While restrictions are enforced, deleting the last rule or the one that trusts the caller's address is refused (409).",
  security: SECURED,
  middleware: ruleMiddleware,
  request: { params: RuleParams },
  responses: { 204: { description: 'Deleted' }, ...errorResponses(401, 403, 404, 409) },
});

const switchRoute = createRoute({
  method: 'put',
  path: '/organizations/{id}/ip-restrictions',
  tags,
  summary: 'Turn IP restrictions on or off',
  description: "Turning them on is refused (409) unless the rules trust the caller's own address.",
  security: SECURED,
  middleware,
  request: { params: OrganizationIdParams, ...jsonBody(SwitchSchema) },
  responses: { 200: jsonResponse(SwitchSchema, 'The new state'), ...errorResponses(401, 403, 404, 409, 422) },
});

function ruleJson(rule: IIpRule): z.infer<typeof IpRuleSchema> {
  return {
    id: rule.id,
    description: rule.description ?? null,
    entries: rule.entries,
    createdAt: rule.createdAt.toISOString(),
    updatedAt: rule.updatedAt.toISOString(),
  };
}

/** Entries as the audit and the mail show them (the same wording as the settings page). */
function entriesOf(rule: IIpRule): string {
  const list = rule.entries.join(', ');
  return list.length > 500 ? `${list.slice(0, 500)}…` : list;
}

export function ipRulesApi(deps: AppDeps) {
  const api = createApiRouter(deps);
  const organization = (c: Context<AppEnv>, id: string) => accessibleOrganization(c.get('em'), principalOf(c), id);
  const notify = (c: Context<AppEnv>, org: IOrganization, summary: string) =>
    recordIpRestrictionChange(c.get('em'), deps.mailer, org, summary, auditActor(c, deps), deps.now());

  api.openapi(listRoute, async (c) => {
    const org = await organization(c, c.req.valid('param').id);
    const rules = await listIpRules(c.get('em'), org);
    return c.json({ enabled: org.ipRestrictionsEnabled, rules: rules.map(ruleJson) }, 200);
  });

  api.openapi(addRoute, async (c) => {
    const org = await organization(c, c.req.valid('param').id);
    const body = c.req.valid('json');
    const rule = await addIpRule(c.get('em'), org, {
      description: body.description ?? null,
      addresses: body.entries.join('\n'),
    });
    await notify(
      c,
      org,
      `Trusted addresses added${rule.description ? ` (${rule.description})` : ''}: ${entriesOf(rule)}`,
    );
    return c.json(ruleJson(rule), 201);
  });

  api.openapi(updateRoute, async (c) => {
    const { id, ruleId } = c.req.valid('param');
    const org = await organization(c, id);
    const rule = await findIpRule(c.get('em'), org, ruleId);
    const body = c.req.valid('json');
    const before = entriesOf(rule);
    await updateIpRule(
      c.get('em'),
      org,
      rule,
      {
        description: body.description === undefined ? rule.description : body.description,
        addresses: (body.entries ?? rule.entries).join('\n'),
      },
      clientIp(c, deps.config),
    );
    await notify(c, org, `Trusted addresses changed from ${before} to ${entriesOf(rule)}`);
    return c.json(ruleJson(rule), 200);
  });

  api.openapi(deleteRoute, async (c) => {
    const { id, ruleId } = c.req.valid('param');
    const org = await organization(c, id);
    const rule = await findIpRule(c.get('em'), org, ruleId);
    const summary = `Trusted addresses removed: ${entriesOf(rule)}`;
    await deleteIpRule(c.get('em'), org, rule, clientIp(c, deps.config));
    await notify(c, org, summary);
    return c.body(null, 204);
  });

  api.openapi(switchRoute, async (c) => {
    const org = await organization(c, c.req.valid('param').id);
    const { enabled } = c.req.valid('json');
    if (org.ipRestrictionsEnabled !== enabled) {
      await setIpRestrictions(c.get('em'), org, enabled, clientIp(c, deps.config));
      await notify(c, org, enabled ? 'IP restrictions enabled' : 'IP restrictions disabled');
    }
    return c.json({ enabled: org.ipRestrictionsEnabled }, 200);
  });

  return api;
}
