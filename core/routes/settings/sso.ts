// Settings › Security › Single sign-on of the organization being worked in ("manage security"):
// its identity providers, who may sign in how (with the break-glass administrator a root
// administrator names), and its e-mail domains for home-realm discovery. Secrets are
// write-only; every change is in the Security audit.
import { type Context, Hono } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { recordAudit } from '../../audit/audit-service.ts';
import { AppError, NotFoundError, ValidationError } from '../../errors.ts';
import { clientIp, requestOrigin } from '../../http/client.ts';
import type { AppDeps, AppEnv } from '../../http/env.ts';
import { redirectWithFlash } from '../../http/flash.ts';
import { organizationOf, principalOf, requirePermission } from '../../http/middleware.ts';
import { renderPage } from '../../http/page.ts';
import type { IOrganization } from '../../identity/entities.ts';
import { User } from '../../identity/entities.ts';
import { PERMISSION_LABELS, PERMISSIONS } from '../../identity/permissions.ts';
import {
  addDomain,
  domainOf,
  listDomains,
  removeDomain,
  TXT_PREFIX,
  verifyDomainByDns,
} from '../../identity/sso/domains.ts';
import { ExternalIdentity, type ISsoProvider } from '../../identity/sso/entities.ts';
import { OIDC_PRESETS } from '../../identity/sso/oidc/oidc-settings.ts';
import { ssoProtocol } from '../../identity/sso/protocols.ts';
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
} from '../../identity/sso/providers.ts';
import { MAX_METADATA_BYTES } from '../../identity/sso/saml/saml-limits.ts';
import {
  parseSignInPolicy,
  SIGN_IN_POLICY_LABELS,
  setBreakGlassUser,
  updateSignInPolicy,
} from '../../identity/sso/sign-in-policy.ts';
import { formFields } from '../forms.ts';

const BASE = '/settings/security/sso';
/** A SAML IdP's metadata XML, pasted, is longer than a form field. */
const LONG_FIELDS = { metadataXml: MAX_METADATA_BYTES };

export const OIDC_PRESET_CHOICES: { value: string; label: string }[] = [
  { value: 'entra', label: 'Microsoft Entra ID' },
  { value: 'google', label: 'Google Workspace' },
  { value: 'okta', label: 'Okta' },
  { value: 'oidc', label: 'Other OpenID Connect provider' },
];

/** What a provider form posts, as the service reads it. */
export function providerInputOf(form: Record<string, string>, permissions: string[]): ProviderInput {
  const { name, protocol, enabled, jitEnabled, jitRole, groupRules, ...settings } = form;
  return {
    protocol: protocol ?? 'oidc',
    name: name ?? '',
    enabled: enabled === 'on',
    jitEnabled: jitEnabled === 'on',
    jitRole: jitRole ?? 'custom',
    jitPermissions: permissions,
    groupRules: groupRules ?? '',
    settings,
  };
}

export function ssoSettingsRoutes(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.use(BASE, requirePermission('manage_security'));
  app.use(`${BASE}/*`, requirePermission('manage_security'));

  const audit = async (
    c: Context<AppEnv>,
    org: IOrganization,
    description: string,
    activity: 'Single sign-on changed' | 'External identity removed' = 'Single sign-on changed',
  ) => {
    const principal = principalOf(c);
    await recordAudit(c.get('em'), {
      organization: org,
      activity,
      account: org.name,
      description,
      actor: {
        label: principal.label,
        id: principal.user?.id ?? null,
        ip: clientIp(c, deps.config),
        userAgent: c.req.header('user-agent'),
      },
    });
  };
  const done = (c: Context<AppEnv>, notice: string, to = BASE) => redirectWithFlash(c, deps, to, notice);
  const isRootAdmin = (c: Context<AppEnv>) => {
    const principal = principalOf(c);
    return principal.home.kind === 'root' && principal.isAdministrator && principal.kind === 'user';
  };

  const page = async (
    c: Context<AppEnv>,
    state: {
      policyErrors?: Record<string, string>;
      domainErrors?: Record<string, string>;
      domainValue?: string;
      failure?: string;
    } = {},
    status: ContentfulStatusCode = 200,
  ) => {
    const em = c.get('em');
    const org = organizationOf(c);
    const providers = await listProviders(em, org);
    const linked = new Map<string, number>();
    for (const p of providers) linked.set(p.id, await em.count(ExternalIdentity, { provider: p.id }));
    const breakGlass = org.ssoBreakGlassUserId ? await em.findOne(User, { id: org.ssoBreakGlassUserId }) : null;
    const origin = requestOrigin(c, deps.config);
    return renderPage(
      c,
      deps,
      'pages/settings/sso.njk',
      {
        title: 'Single sign-on',
        failure: state.failure,
        organizationName: org.name,
        policy: org.signInPolicy,
        policies: Object.entries(SIGN_IN_POLICY_LABELS).map(([value, label]) => ({ value, label })),
        breakGlassEmail: breakGlass?.email ?? '',
        canNameBreakGlass: isRootAdmin(c),
        policyErrors: state.policyErrors ?? {},
        providers: providers.map((p) => ({
          id: p.id,
          name: p.name,
          type: PRESET_LABELS[p.preset] ?? p.preset,
          enabled: p.enabled,
          jit: p.jitEnabled,
          linked: linked.get(p.id) ?? 0,
          signInLink: `${origin}/sso/start/${p.id}`,
        })),
        domains: (await listDomains(em, org)).map((d) => ({
          id: d.id,
          domain: d.domain,
          txt: `${TXT_PREFIX}${d.token}`,
          verifiedAt: d.verifiedAt ?? null,
          verifiedBy:
            d.verifiedBy === 'dns' ? 'DNS record' : d.verifiedBy === 'idp' ? "an administrator's sign-in" : null,
        })),
        domainErrors: state.domainErrors ?? {},
        domainValue: state.domainValue ?? '',
      },
      status,
    );
  };

  const formPage = async (
    c: Context<AppEnv>,
    provider: ISsoProvider | null,
    values: Record<string, string>,
    errors: Record<string, string>,
    status: ContentfulStatusCode = 200,
  ) => {
    const protocol = provider?.protocol ?? (values.protocol === 'saml' ? 'saml' : 'oidc');
    const origin = requestOrigin(c, deps.config);
    return renderPage(
      c,
      deps,
      'pages/settings/sso-provider.njk',
      {
        title: provider ? `Edit ${provider.name}` : 'Add identity provider',
        providerId: provider?.id ?? null,
        protocol,
        protocolAvailable: Boolean(ssoProtocol(protocol)),
        presets: OIDC_PRESET_CHOICES,
        permissions: PERMISSIONS.map((p) => ({ value: p, label: PERMISSION_LABELS[p].label })),
        values,
        errors,
        focus: Object.keys(errors)[0] ?? 'name',
        callbackUrl: provider ? `${origin}/sso/callback/${provider.id}` : null,
        serviceProviderId: provider ? `${origin}/sso/metadata/${provider.id}` : null,
        logoutUrl: provider ? `${origin}/sso/logout/${provider.id}` : null,
        secretSet: provider ? Boolean(provider.secretsSealed) : false,
      },
      status,
    );
  };

  const valuesOf = (provider: ISsoProvider): Record<string, string> => {
    const module = ssoProtocol(provider.protocol);
    const described = module ? module.describeSettings(providerView(provider, deps.credentials)) : {};
    const values: Record<string, string> = {
      protocol: provider.protocol,
      preset: provider.preset,
      name: provider.name,
      enabled: provider.enabled ? 'on' : '',
      jitEnabled: provider.jitEnabled ? 'on' : '',
      jitRole: provider.jitRole,
      groupRules: groupRulesText(provider.groupRules),
    };
    for (const [key, value] of Object.entries(described)) {
      if (typeof value === 'string') values[key] = value;
      else if (value === true) values[key] = 'on';
    }
    for (const p of provider.jitPermissions) values[`perm_${p}`] = 'on';
    return values;
  };

  const permissionsOf = (form: Record<string, string>) => PERMISSIONS.filter((p) => form[`perm_${p}`] === 'on');

  app.get(BASE, (c) => page(c));

  app.post(`${BASE}/policy`, async (c) => {
    const form = await formFields(c);
    const org = organizationOf(c);
    const em = c.get('em');
    try {
      const sentences: string[] = [];
      const changed = await updateSignInPolicy(em, org, parseSignInPolicy(form.signInPolicy));
      if (changed) sentences.push(changed);
      if (isRootAdmin(c) && form.breakGlassEmail !== undefined) {
        const named = await setBreakGlassUser(em, org, form.breakGlassEmail.trim() || null);
        if (named.sentence) sentences.push(named.sentence);
      }
      if (sentences.length === 0) return done(c, 'Nothing was changed.');
      await audit(c, org, sentences.join('; '));
      return done(c, 'The sign-in policy has been saved.');
    } catch (error) {
      if (error instanceof ValidationError) return page(c, { policyErrors: error.fields ?? {} }, 422);
      throw error;
    }
  });

  app.get(`${BASE}/providers/new`, (c) => {
    const protocol = c.req.query('protocol') === 'saml' ? 'saml' : 'oidc';
    const preset = OIDC_PRESETS.includes(c.req.query('preset') as never) ? (c.req.query('preset') as string) : 'entra';
    return formPage(c, null, { protocol, preset, enabled: 'on', jitRole: 'custom' }, {});
  });

  app.post(`${BASE}/providers`, async (c) => {
    const form = await formFields(c, LONG_FIELDS);
    const org = organizationOf(c);
    try {
      const provider = await createProvider(
        c.get('em'),
        org,
        providerInputOf(form, permissionsOf(form)),
        deps.credentials,
        deps.config.ssoAllowLoopback,
      );
      await audit(
        c,
        org,
        `Identity provider ${provider.name} (${PRESET_LABELS[provider.preset] ?? provider.preset}) added`,
      );
      return done(
        c,
        provider.protocol === 'saml'
          ? `${provider.name} has been added. Give the identity provider the ACS URL and entity ID shown below.`
          : `${provider.name} has been added. Give the identity provider the redirect URI shown below.`,
        `${BASE}/providers/${provider.id}`,
      );
    } catch (error) {
      if (error instanceof ValidationError)
        return formPage(c, null, { ...form, clientSecret: '' }, error.fields ?? {}, 422);
      throw error;
    }
  });

  app.get(`${BASE}/providers/:id`, async (c) => {
    const provider = await providerOf(c.get('em'), organizationOf(c), c.req.param('id'));
    return formPage(c, provider, valuesOf(provider), {});
  });

  app.post(`${BASE}/providers/:id`, async (c) => {
    const form = await formFields(c, LONG_FIELDS);
    const org = organizationOf(c);
    const provider = await providerOf(c.get('em'), org, c.req.param('id'));
    try {
      await updateProvider(
        c.get('em'),
        provider,
        providerInputOf(form, permissionsOf(form)),
        deps.credentials,
        deps.config.ssoAllowLoopback,
      );
      const secret = (form.clientSecret ?? '').trim() ? '; client secret replaced' : '';
      await audit(
        c,
        org,
        `Identity provider ${provider.name} changed${provider.enabled ? '' : ' (disabled: its sessions ended)'}${secret}`,
      );
      return done(c, `${provider.name} has been saved.`);
    } catch (error) {
      if (error instanceof ValidationError)
        return formPage(c, provider, { ...form, clientSecret: '' }, error.fields ?? {}, 422);
      throw error;
    }
  });

  app.post(`${BASE}/providers/:id/delete`, async (c) => {
    const org = organizationOf(c);
    const provider = await providerOf(c.get('em'), org, c.req.param('id'));
    const name = provider.name;
    await deleteProvider(c.get('em'), provider);
    await audit(c, org, `Identity provider ${name} removed; its linked identities and sessions ended`);
    return done(c, `${name} has been removed.`);
  });

  app.post(`${BASE}/domains`, async (c) => {
    const form = await formFields(c);
    const org = organizationOf(c);
    try {
      const row = await addDomain(c.get('em'), org, form.domain ?? '', deps.now());
      await audit(c, org, `E-mail domain ${row.domain} added (not verified yet)`);
      return done(c, `Publish the TXT record shown for ${row.domain}, then choose Verify.`);
    } catch (error) {
      if (error instanceof ValidationError)
        return page(c, { domainErrors: error.fields ?? {}, domainValue: form.domain ?? '' }, 422);
      // Verified by another organization: said at the field, as the API's 409 says it.
      if (error instanceof AppError && error.status === 409)
        return page(c, { domainErrors: { domain: error.message }, domainValue: form.domain ?? '' }, 409);
      throw error;
    }
  });

  const domainOrNotFound = async (c: Context<AppEnv>) => {
    const row = await domainOf(c.get('em'), organizationOf(c), c.req.param('id') ?? '');
    if (!row) throw new NotFoundError('No such domain.');
    return row;
  };

  app.post(`${BASE}/domains/:id/verify`, async (c) => {
    const org = organizationOf(c);
    const row = await domainOrNotFound(c);
    try {
      await verifyDomainByDns(c.get('em'), org, row, deps.config.ssoDnsServers, deps.now());
    } catch (error) {
      if (error instanceof AppError && error.status === 409)
        return redirectWithFlash(c, deps, BASE, error.message, 'failure');
      throw error;
    }
    await audit(c, org, `E-mail domain ${row.domain} verified by its DNS record`);
    return done(c, `${row.domain} is verified: its users are sent to this organization's identity providers.`);
  });

  app.post(`${BASE}/domains/:id/delete`, async (c) => {
    const org = organizationOf(c);
    const row = await domainOrNotFound(c);
    await removeDomain(c.get('em'), row);
    await audit(c, org, `E-mail domain ${row.domain} removed`);
    return done(c, `${row.domain} has been removed.`);
  });

  return app;
}
