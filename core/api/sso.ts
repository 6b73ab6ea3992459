// /api/v1/organizations/{id}/sso: an organization's single sign-on — its sign-in policy and its
// identity providers. Needs "Manage security"; the break-glass administrator is named by root
// administrators only. Secrets are write-only: an answer says only whether one is stored.
// Every change is in the Security audit.
import { createRoute, z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { ForbiddenError } from '../access/errors.ts';
import { accessibleOrganization } from '../access/principal.ts';
import { recordAudit } from '../audit/audit-service.ts';
import { auditActor } from '../http/audit-actor.ts';
import { requestOrigin } from '../http/client.ts';
import type { AppDeps, AppEnv } from '../http/env.ts';
import { principalOf } from '../http/middleware.ts';
import { type IOrganization, SIGN_IN_POLICIES, User } from '../identity/entities.ts';
import { PERMISSIONS } from '../identity/permissions.ts';
import { ExternalIdentity, type ISsoProvider } from '../identity/sso/entities.ts';
import { SSO_PROTOCOLS } from '../identity/sso/protocol.ts';
import { ssoProtocol } from '../identity/sso/protocols.ts';
import {
  createProvider,
  deleteProvider,
  groupRulesText,
  listProviders,
  PRESET_LABELS,
  type ProviderInput,
  providerOf,
  providerView,
  updateProvider,
} from '../identity/sso/providers.ts';
import { MAX_METADATA_BYTES } from '../identity/sso/saml/saml-limits.ts';
import { setBreakGlassUser, updateSignInPolicy } from '../identity/sso/sign-in-policy.ts';
import { inReach, jsonBody, jsonResponse, OrganizationIdParams } from './common.ts';
import { createApiRouter, guarded, SECURED } from './router.ts';
import { errorResponses } from './schemas.ts';

const GroupRuleSchema = z
  .object({
    group: z.string().max(200),
    role: z.enum(['administrator', 'custom']),
    permissions: z.array(z.enum(PERMISSIONS)),
  })
  .openapi('SsoGroupRule');

const ProviderSchema = z
  .object({
    id: z.string(),
    protocol: z.enum(SSO_PROTOCOLS),
    preset: z.string().openapi({ description: "'entra', 'google', 'okta', 'oidc' or 'saml'." }),
    type: z.string().openapi({ description: 'Microsoft, Google, Okta, OpenID Connect or SAML.' }),
    name: z.string(),
    enabled: z.boolean(),
    settings: z.record(z.string(), z.unknown()).openapi({
      description: 'Protocol settings; a secret shows only as `…SecretSet: true`.',
    }),
    jitEnabled: z.boolean(),
    jitRole: z.enum(['administrator', 'custom']),
    jitPermissions: z.array(z.enum(PERMISSIONS)),
    groupRules: z.array(GroupRuleSchema),
    linkedUsers: z.number().int(),
    callbackUrl: z.string().openapi({ description: 'The redirect URI (OIDC) or ACS URL (SAML) to give the provider.' }),
    signInUrl: z.string().openapi({ description: 'Starts a sign-in through this provider.' }),
    createdAt: z.string().openapi({ format: 'date-time' }),
  })
  .openapi('SsoProvider');

const ProviderInputSchema = z
  .object({
    protocol: z.enum(SSO_PROTOCOLS).optional().openapi({ description: 'Default oidc; fixed once created.' }),
    name: z.string().max(100),
    enabled: z.boolean().optional(),
    settings: z.record(z.string(), z.string().max(MAX_METADATA_BYTES)).openapi({
      description:
        'OIDC: preset (entra, google, okta, oidc), clientId, clientSecret (write-only; left out keeps the stored one), tenantId (entra), hostedDomain (google), issuer (okta, oidc), scopes, groupsClaim. SAML: exactly one of metadataUrl, metadataXml or oktaLink (Okta’s App Embed Link; on a change, clear the others with ""), emailVerified ("false": the IdP’s e-mail is not taken as verified) and signAuthnRequests ("true": AuthnRequests and LogoutRequests are signed with the provider’s SP key, whose certificate the SP metadata and `settings.spCertificate` publish).',
      example: { preset: 'okta', issuer: 'https://contoso.okta.com', clientId: '0oa1b2c3', clientSecret: '…' },
    }),
    jitEnabled: z.boolean().optional(),
    jitRole: z.enum(['administrator', 'custom']).optional(),
    jitPermissions: z.array(z.enum(PERMISSIONS)).optional(),
    groupRules: z.array(GroupRuleSchema).max(50).optional(),
  })
  .openapi('SsoProviderInput');

const PolicySchema = z
  .object({
    signInPolicy: z.enum(SIGN_IN_POLICIES).openapi({ description: "'password', 'either' or 'sso' (Require SSO)." }),
    breakGlassEmail: z.string().nullable().openapi({ description: 'Keeps password sign-in under Require SSO.' }),
  })
  .openapi('SsoPolicy');

const PolicyInputSchema = z
  .object({
    signInPolicy: z.enum(SIGN_IN_POLICIES),
    breakGlassEmail: z.string().max(320).nullable().optional().openapi({
      description: 'Root administrators only (403 otherwise); null removes it.',
    }),
  })
  .openapi('SsoPolicyInput');

const ProviderParams = OrganizationIdParams.extend({
  providerId: z
    .string()
    .max(36)
    .openapi({ param: { name: 'providerId', in: 'path' } }),
});

const tags = ['Single sign-on'];
const middleware = [...guarded('manage_security'), inReach()];
const providerMiddleware = [
  ...guarded('manage_security'),
  inReach((em, org, c) => providerOf(em, org, c.req.param('providerId') ?? '')),
];

const policyRoute = createRoute({
  method: 'get',
  path: '/organizations/{id}/sso/policy',
  tags,
  summary: 'Read the sign-in policy',
  security: SECURED,
  middleware,
  request: { params: OrganizationIdParams },
  responses: { 200: jsonResponse(PolicySchema, 'The policy'), ...errorResponses(401, 403, 404) },
});

const setPolicyRoute = createRoute({
  method: 'put',
  path: '/organizations/{id}/sso/policy',
  tags,
  summary: 'Set the sign-in policy',
  description:
    "'sso' (Require SSO) refuses password sign-in to the organization's users except the break-glass administrator.",
  security: SECURED,
  middleware,
  request: { params: OrganizationIdParams, ...jsonBody(PolicyInputSchema) },
  responses: { 200: jsonResponse(PolicySchema, 'The policy'), ...errorResponses(401, 403, 404, 422) },
});

const listRoute = createRoute({
  method: 'get',
  path: '/organizations/{id}/sso/providers',
  tags,
  summary: 'List identity providers',
  security: SECURED,
  middleware,
  request: { params: OrganizationIdParams },
  responses: {
    200: jsonResponse(z.object({ items: z.array(ProviderSchema) }), 'Providers'),
    ...errorResponses(401, 403, 404),
  },
});

const createProviderRoute = createRoute({
  method: 'post',
  path: '/organizations/{id}/sso/providers',
  tags,
  summary: 'Add an identity provider',
  description:
    'Issuers must be https (plain http on loopback only when the operator sets HOLDFAST_SSO_ALLOW_LOOPBACK).',
  security: SECURED,
  middleware,
  request: { params: OrganizationIdParams, ...jsonBody(ProviderInputSchema) },
  responses: { 201: jsonResponse(ProviderSchema, 'The new provider'), ...errorResponses(401, 403, 404, 422) },
});

const getProviderRoute = createRoute({
  method: 'get',
  path: '/organizations/{id}/sso/providers/{providerId}',
  tags,
  summary: 'Read an identity provider',
  security: SECURED,
  middleware: providerMiddleware,
  request: { params: ProviderParams },
  responses: { 200: jsonResponse(ProviderSchema, 'The provider'), ...errorResponses(401, 403, 404) },
});

const updateProviderRoute = createRoute({
  method: 'patch',
  path: '/organizations/{id}/sso/providers/{providerId}',
  tags,
  summary: 'Change an identity provider',
  description: 'Settings are replaced as a whole (a secret left out is kept). Disabling a provider ends its sessions.',
  security: SECURED,
  middleware: providerMiddleware,
  request: { params: ProviderParams, ...jsonBody(ProviderInputSchema.partial()) },
  responses: { 200: jsonResponse(ProviderSchema, 'The provider'), ...errorResponses(401, 403, 404, 422) },
});

const deleteProviderRoute = createRoute({
  method: 'delete',
  path: '/organizations/{id}/sso/providers/{providerId}',
  tags,
  summary: 'Remove an identity provider',
  description: 'Its linked identities and its sessions end with it.',
  security: SECURED,
  middleware: providerMiddleware,
  request: { params: ProviderParams },
  responses: { 204: { description: 'Removed' }, ...errorResponses(401, 403, 404) },
});

function rulesText(rules: z.infer<typeof GroupRuleSchema>[] | undefined): string | undefined {
  return rules === undefined ? undefined : groupRulesText(rules);
}

export function ssoApi(deps: AppDeps) {
  const api = createApiRouter(deps);
  const organization = (c: Context<AppEnv>, id: string) => accessibleOrganization(c.get('em'), principalOf(c), id);
  const audit = (c: Context<AppEnv>, org: IOrganization, description: string) =>
    recordAudit(c.get('em'), {
      organization: org,
      activity: 'Single sign-on changed',
      account: org.name,
      description,
      actor: auditActor(c, deps),
    });

  const providerJson = async (c: Context<AppEnv>, p: ISsoProvider): Promise<z.infer<typeof ProviderSchema>> => {
    const module = ssoProtocol(p.protocol);
    const origin = requestOrigin(c, deps.config);
    return {
      id: p.id,
      protocol: p.protocol,
      preset: p.preset,
      type: PRESET_LABELS[p.preset] ?? p.preset,
      name: p.name,
      enabled: p.enabled,
      settings: module ? module.describeSettings(providerView(p, deps.credentials)) : {},
      jitEnabled: p.jitEnabled,
      jitRole: p.jitRole,
      jitPermissions: p.jitPermissions,
      groupRules: p.groupRules,
      linkedUsers: await c.get('em').count(ExternalIdentity, { provider: p.id }),
      callbackUrl: `${origin}/sso/callback/${p.id}`,
      signInUrl: `${origin}/sso/start/${p.id}`,
      createdAt: p.createdAt.toISOString(),
    };
  };

  const policyJson = async (c: Context<AppEnv>, org: IOrganization) => {
    const user = org.ssoBreakGlassUserId ? await c.get('em').findOne(User, { id: org.ssoBreakGlassUserId }) : null;
    return { signInPolicy: org.signInPolicy, breakGlassEmail: user?.email ?? null };
  };

  api.openapi(policyRoute, async (c) => {
    const org = await organization(c, c.req.valid('param').id);
    return c.json(await policyJson(c, org), 200);
  });

  api.openapi(setPolicyRoute, async (c) => {
    const org = await organization(c, c.req.valid('param').id);
    const body = c.req.valid('json');
    const principal = principalOf(c);
    const sentences: string[] = [];
    if (body.breakGlassEmail !== undefined) {
      if (!(principal.home.kind === 'root' && principal.isAdministrator)) {
        throw new ForbiddenError('Only root administrators name the break-glass administrator.');
      }
      const named = await setBreakGlassUser(c.get('em'), org, body.breakGlassEmail);
      if (named.sentence) sentences.push(named.sentence);
    }
    const changed = await updateSignInPolicy(c.get('em'), org, body.signInPolicy);
    if (changed) sentences.push(changed);
    if (sentences.length > 0) await audit(c, org, sentences.join('; '));
    return c.json(await policyJson(c, org), 200);
  });

  api.openapi(listRoute, async (c) => {
    const org = await organization(c, c.req.valid('param').id);
    const providers = await listProviders(c.get('em'), org);
    const items = [];
    for (const p of providers) items.push(await providerJson(c, p));
    return c.json({ items }, 200);
  });

  api.openapi(createProviderRoute, async (c) => {
    const org = await organization(c, c.req.valid('param').id);
    const body = c.req.valid('json');
    const input: ProviderInput = { ...body, groupRules: rulesText(body.groupRules) };
    const provider = await createProvider(c.get('em'), org, input, deps.credentials, deps.config.ssoAllowLoopback);
    await audit(
      c,
      org,
      `Identity provider ${provider.name} (${PRESET_LABELS[provider.preset] ?? provider.preset}) added`,
    );
    return c.json(await providerJson(c, provider), 201);
  });

  api.openapi(getProviderRoute, async (c) => {
    const { id, providerId } = c.req.valid('param');
    const provider = await providerOf(c.get('em'), await organization(c, id), providerId);
    return c.json(await providerJson(c, provider), 200);
  });

  api.openapi(updateProviderRoute, async (c) => {
    const { id, providerId } = c.req.valid('param');
    const org = await organization(c, id);
    const provider = await providerOf(c.get('em'), org, providerId);
    const body = c.req.valid('json');
    const module = ssoProtocol(provider.protocol);
    // Fields left out keep their value: the stored settings (secrets stay stored) under the body's.
    const described = module ? module.describeSettings(providerView(provider, deps.credentials)) : {};
    const stored: Record<string, string> = { preset: provider.preset };
    // Booleans too ("true"/"false"), so a PATCH that leaves one out keeps it.
    for (const [key, value] of Object.entries(described)) {
      if (typeof value === 'string') stored[key] = value;
      else if (typeof value === 'boolean') stored[key] = String(value);
    }
    const input: ProviderInput = {
      name: body.name ?? provider.name,
      enabled: body.enabled ?? provider.enabled,
      jitEnabled: body.jitEnabled ?? provider.jitEnabled,
      jitRole: body.jitRole ?? provider.jitRole,
      jitPermissions: body.jitPermissions ?? provider.jitPermissions,
      groupRules: rulesText(body.groupRules) ?? groupRulesText(provider.groupRules),
      settings: body.settings ? { ...stored, ...body.settings } : stored,
    };
    await updateProvider(c.get('em'), provider, input, deps.credentials, deps.config.ssoAllowLoopback);
    const secret =
      body.settings && Object.keys(body.settings).some((k) => /secret/i.test(k)) ? '; secret replaced' : '';
    await audit(
      c,
      org,
      `Identity provider ${provider.name} changed${provider.enabled ? '' : ' (disabled: its sessions ended)'}${secret}`,
    );
    return c.json(await providerJson(c, provider), 200);
  });

  api.openapi(deleteProviderRoute, async (c) => {
    const { id, providerId } = c.req.valid('param');
    const org = await organization(c, id);
    const provider = await providerOf(c.get('em'), org, providerId);
    const name = provider.name;
    await deleteProvider(c.get('em'), provider);
    await audit(c, org, `Identity provider ${name} removed; its linked identities and sessions ended`);
    return c.body(null, 204);
  });

  return api;
}
