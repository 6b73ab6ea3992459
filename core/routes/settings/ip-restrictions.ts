// Settings › IP restrictions of the organization being worked in ("manage security"). Every
// change is audited and mailed to the organization's administrators.
import { type Context, Hono } from 'hono';
import {
  addIpRule,
  deleteIpRule,
  findIpRule,
  type IpRuleInput,
  listIpRules,
  setIpRestrictions,
  updateIpRule,
} from '../../access/ip-rules.ts';
import { recordAudit } from '../../audit/audit-service.ts';
import { AppError, ValidationError } from '../../errors.ts';
import { clientIp } from '../../http/client.ts';
import type { AppDeps, AppEnv } from '../../http/env.ts';
import { redirectWithFlash } from '../../http/flash.ts';
import { organizationOf, principalOf, requirePermission } from '../../http/middleware.ts';
import { renderPage } from '../../http/page.ts';
import { type IOrganization, User } from '../../identity/entities.ts';
import { formFields } from '../forms.ts';

const BASE = '/settings/ip-restrictions';

export function ipRestrictionRoutes(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.use(BASE, requirePermission('manage_security'));
  app.use(`${BASE}/*`, requirePermission('manage_security'));

  /** Audit entry plus a mail to every active administrator of the organization. */
  const announce = async (c: Context<AppEnv>, org: IOrganization, description: string) => {
    const principal = principalOf(c);
    const ip = clientIp(c, deps.config);
    await recordAudit(c.get('em'), {
      organization: org,
      activity: 'IP restrictions changed',
      account: org.name,
      description,
      actor: { label: principal.label, id: principal.user?.id ?? null, ip, userAgent: c.req.header('user-agent') },
    });
    const admins = await c.get('em').find(User, { organization: org.id, role: 'administrator', status: 'active' });
    for (const admin of admins) {
      await deps.mailer.send(c.get('em'), {
        to: admin.email,
        subject: `IP restrictions of ${org.name} changed`,
        text: `${description}.\n\nChanged by ${principal.label} from ${ip ?? 'an unknown address'} at ${deps.now().toISOString()}.\n\nIf you did not expect this change, review Settings › IP restrictions.`,
      });
    }
  };

  const page = async (
    c: Context<AppEnv>,
    extra: {
      form?: { id?: string; values: Record<string, string>; errors: Record<string, string> };
      failure?: string;
    } = {},
    status: 200 | 404 | 409 | 422 = 200,
  ) => {
    const org = organizationOf(c);
    const rules = await listIpRules(c.get('em'), org);
    return renderPage(
      c,
      deps,
      'pages/settings/ip-restrictions.njk',
      {
        title: 'IP restrictions',
        enabled: org.ipRestrictionsEnabled,
        callerIp: clientIp(c, deps.config) ?? 'unknown',
        rules: rules.map((r) => ({ id: r.id, description: r.description, entries: r.entries })),
        form: extra.form,
        failure: extra.failure,
        focus: extra.form ? (Object.keys(extra.form.errors)[0] ?? 'description') : undefined,
      },
      status,
    );
  };

  const done = (c: Context<AppEnv>, notice: string) => redirectWithFlash(c, deps, BASE, notice);

  const inputOf = (form: Record<string, string>): IpRuleInput => ({
    description: form.description ?? '',
    addresses: form.mode === 'range' ? `${form.from ?? ''}-${form.to ?? ''}` : (form.addresses ?? ''),
  });

  app.get(BASE, (c) => page(c));

  app.get(`${BASE}/new`, (c) =>
    page(c, { form: { values: { addresses: clientIp(c, deps.config) ?? '' }, errors: {} } }),
  );

  app.get(`${BASE}/:id/edit`, async (c) => {
    const rule = await findIpRule(c.get('em'), organizationOf(c), c.req.param('id'));
    return page(c, {
      form: {
        id: rule.id,
        values: { description: rule.description ?? '', addresses: rule.entries.join(', ') },
        errors: {},
      },
    });
  });

  app.post(BASE, async (c) => {
    const org = organizationOf(c);
    const form = await formFields(c);
    try {
      const rule = await addIpRule(c.get('em'), org, inputOf(form));
      await announce(
        c,
        org,
        `Trusted addresses added${rule.description ? ` (${rule.description})` : ''}: ${rule.entries.join(', ')}`,
      );
      return done(c, 'Trusted addresses added.');
    } catch (err) {
      if (err instanceof ValidationError) {
        return page(c, { form: { values: form, errors: err.fields ?? {} } }, 422);
      }
      throw err;
    }
  });

  app.post(`${BASE}/enabled`, async (c) => {
    const org = organizationOf(c);
    const form = await formFields(c);
    const enable = form.enabled === 'on';
    try {
      await setIpRestrictions(c.get('em'), org, enable, clientIp(c, deps.config));
      await announce(c, org, enable ? 'IP restrictions enabled' : 'IP restrictions disabled');
      return done(c, enable ? 'IP restrictions are on.' : 'IP restrictions are off.');
    } catch (err) {
      if (err instanceof AppError && err.status === 409) return page(c, { failure: err.message }, 409);
      throw err;
    }
  });

  app.post(`${BASE}/:id`, async (c) => {
    const org = organizationOf(c);
    const rule = await findIpRule(c.get('em'), org, c.req.param('id'));
    const form = await formFields(c);
    const before = rule.entries.join(', ');
    try {
      await updateIpRule(c.get('em'), org, rule, inputOf(form), clientIp(c, deps.config));
      await announce(c, org, `Trusted addresses changed from ${before} to ${rule.entries.join(', ')}`);
      return done(c, 'Trusted addresses saved.');
    } catch (err) {
      if (err instanceof ValidationError) {
        return page(c, { form: { id: rule.id, values: form, errors: err.fields ?? {} } }, 422);
      }
      if (err instanceof AppError && err.status === 409) {
        return page(c, { form: { id: rule.id, values: form, errors: {} }, failure: err.message }, 409);
      }
      throw err;
    }
  });

  app.post(`${BASE}/:id/delete`, async (c) => {
    const org = organizationOf(c);
    const rule = await findIpRule(c.get('em'), org, c.req.param('id'));
    const entries = rule.entries.join(', ');
    try {
      await deleteIpRule(c.get('em'), org, rule, clientIp(c, deps.config));
      await announce(c, org, `Trusted addresses removed: ${entries}`);
      return done(c, 'Trusted addresses removed.');
    } catch (err) {
      if (err instanceof AppError && err.status === 409) return page(c, { failure: err.message }, 409);
      throw err;
    }
  });

  return app;
}
