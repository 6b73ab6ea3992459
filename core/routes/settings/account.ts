// Settings › Account: the details of the organization being worked in (its short ID, contact,
// address and country), a customer's privacy option (remove or restore its partner's access;
// core/tenancy/partner-access.ts), its restore drill policy (how often its tasks' and its
// accounts' drills run), and its removal (an explicit approval starts a grace period during which
// it can be restored).
import { type Context, Hono } from 'hono';
import { ForbiddenError } from '../../access/errors.ts';
import { recordAudit } from '../../audit/audit-service.ts';
import { drillPolicies, effectivePolicy, intervalProblem, setDrillPolicy } from '../../drills/drill-policy.ts';
import { AppError, ValidationError } from '../../errors.ts';
import { clientIp } from '../../http/client.ts';
import type { AppDeps, AppEnv } from '../../http/env.ts';
import { redirectWithFlash } from '../../http/flash.ts';
import { organizationOf, principalOf } from '../../http/middleware.ts';
import { renderPage } from '../../http/page.ts';
import { Organization } from '../../identity/entities.ts';
import { COUNTRIES } from '../../tenancy/countries.ts';
import {
  KIND_LABELS,
  REMOVAL_CONFIRMATION,
  REMOVAL_GRACE_DAYS,
  updateOrganization,
} from '../../tenancy/organizations.ts';
import { mayChangePartnerAccess, setPartnerAccess } from '../../tenancy/partner-access.ts';
import { cancelRemoval, requestRemoval } from '../../tenancy/removal.ts';
import { formFields } from '../forms.ts';

export function accountRoutes(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();

  const actor = (c: Context<AppEnv>) => {
    const p = principalOf(c);
    return {
      label: p.label,
      id: p.user?.id ?? null,
      ip: clientIp(c, deps.config),
      userAgent: c.req.header('user-agent'),
    };
  };

  /** Changing the account is for administrators of it (or of a portal above it). */
  const mayEdit = (c: Context<AppEnv>) => principalOf(c).isAdministrator;

  /** The drill policy that applies here, and where it comes from (core/drills/drill-policy.ts). */
  const drillsView = async (c: Context<AppEnv>, submitted?: string) => {
    const em = c.get('em');
    const org = organizationOf(c);
    const policies = await drillPolicies(em);
    const effective = effectivePolicy(policies, org, deps.config.drillIntervalDays);
    const from =
      effective.source === 'inherited' && effective.fromId
        ? ((await em.findOne(Organization, { id: effective.fromId }))?.name ?? null)
        : null;
    const own = policies.get(org.id);
    return { ...effective, from, value: submitted ?? (own === undefined ? '' : String(own)) };
  };

  const page = async (
    c: Context<AppEnv>,
    extra: {
      values?: Record<string, unknown>;
      errors?: Record<string, string>;
      failure?: string;
      notice?: string;
      drillDays?: string;
    },
    status: 200 | 403 | 409 | 422 = 200,
  ) => {
    const org = organizationOf(c);
    return renderPage(
      c,
      deps,
      'pages/settings/account.njk',
      {
        title: 'Account',
        org: {
          id: org.id,
          name: org.name,
          kind: KIND_LABELS[org.kind],
          isRoot: org.kind === 'root',
          status: org.status,
          purgeAfter: org.purgeAfter ?? null,
          createdAt: org.createdAt,
          code: org.code,
          idLabel: org.kind === 'customer' ? 'Account ID' : 'Partner ID',
          partnerAccessRemovedAt: org.partnerAccessRemovedAt ?? null,
        },
        countries: COUNTRIES,
        // The customer privacy option: for the customer's own administrators only.
        privacy: mayChangePartnerAccess(principalOf(c), org),
        values: extra.values ?? {
          name: org.name,
          contactName: org.contactName ?? '',
          contactEmail: org.contactEmail ?? '',
          phone: org.phone ?? '',
          address: org.address ?? '',
          country: org.country ?? '',
        },
        errors: extra.errors ?? {},
        failure: extra.failure,
        notice: extra.notice,
        canEdit: mayEdit(c),
        confirmation: REMOVAL_CONFIRMATION,
        graceDays: REMOVAL_GRACE_DAYS,
        drills: await drillsView(c, extra.drillDays),
        applianceDrillDays: deps.config.drillIntervalDays,
        focus: Object.keys(extra.errors ?? {})[0],
      },
      status,
    );
  };

  app.get('/settings/account', (c) => page(c, {}));

  app.post('/settings/account', async (c) => {
    if (!mayEdit(c)) throw new ForbiddenError('Only administrators can change the account details.');
    const org = organizationOf(c);
    const form = await formFields(c);
    const values = {
      name: form.name ?? '',
      contactName: form.contactName ?? '',
      contactEmail: form.contactEmail ?? '',
      phone: form.phone ?? '',
      address: form.address ?? '',
      country: form.country ?? '',
    };
    try {
      const changed = await updateOrganization(c.get('em'), org, values);
      if (changed.length > 0) {
        await recordAudit(c.get('em'), {
          organization: org,
          activity: 'Settings changed',
          account: org.name,
          description: `Account details changed: ${changed.join(', ')}`,
          actor: actor(c),
        });
      }
      return redirectWithFlash(
        c,
        deps,
        '/settings/account',
        changed.length ? 'Account details saved.' : 'Nothing changed.',
      );
    } catch (err) {
      if (err instanceof ValidationError) return page(c, { values, errors: err.fields ?? {} }, 422);
      throw err;
    }
  });

  app.post('/settings/account/partner-access', async (c) => {
    const org = organizationOf(c);
    const form = await formFields(c);
    const access = form.access === 'restore' ? 'restored' : form.access === 'remove' ? 'removed' : null;
    if (!access) return page(c, { failure: 'Choose whether to remove or restore the access.' }, 422);
    const changed = await setPartnerAccess(c.get('em'), principalOf(c), org, access, actor(c), deps.now());
    const text = !changed
      ? 'Nothing changed.'
      : access === 'removed'
        ? 'Your partner can no longer open this account or reach its data. Only your own users can.'
        : 'Your partner can open this account and manage its backups again.';
    return redirectWithFlash(c, deps, '/settings/account', text);
  });

  // The account's restore drill policy: every N days, 0 for none, empty to inherit.
  app.post('/settings/account/drills', async (c) => {
    if (!mayEdit(c)) throw new ForbiddenError('Only administrators can change the restore drill policy.');
    const org = organizationOf(c);
    const { intervalDays = '' } = await formFields(c);
    const value = intervalDays.trim();
    const problem = intervalProblem(value);
    if (problem) return page(c, { errors: { intervalDays: problem }, drillDays: value }, 422);
    const days = value === '' ? null : Number(value);
    await setDrillPolicy(c.get('em'), org, days);
    await recordAudit(c.get('em'), {
      organization: org,
      activity: 'Settings changed',
      account: org.name,
      description:
        days === null
          ? 'Restore drill policy: inherited'
          : `Restore drill policy: ${days === 0 ? 'no scheduled drills' : `every ${days} day(s)`}`,
      actor: actor(c),
    });
    return redirectWithFlash(c, deps, '/settings/account', 'The restore drill policy has been saved.');
  });

  app.post('/settings/account/remove', async (c) => {
    if (!mayEdit(c)) throw new ForbiddenError('Only administrators can remove the account.');
    const org = organizationOf(c);
    const form = await formFields(c);
    try {
      const purgeAfter = await requestRemoval(c.get('em'), org, form.approve === 'yes', deps.now());
      await recordAudit(c.get('em'), {
        organization: org,
        activity: 'Account removal requested',
        account: org.name,
        description: `Removal of ${org.name} approved; its data is purged after ${purgeAfter.toISOString()} unless restored`,
        actor: actor(c),
      });
      return redirectWithFlash(
        c,
        deps,
        '/settings/account',
        `The account will be removed after ${REMOVAL_GRACE_DAYS} days. You can restore it until then.`,
      );
    } catch (err) {
      if (err instanceof ValidationError) return page(c, { errors: err.fields ?? {} }, 422);
      if (err instanceof AppError && err.status === 409) return page(c, { failure: err.message }, 409);
      throw err;
    }
  });

  app.post('/settings/account/restore', async (c) => {
    if (!mayEdit(c)) {
      throw new ForbiddenError('Only administrators can restore the account.');
    }
    const org = organizationOf(c);
    await cancelRemoval(c.get('em'), org);
    await recordAudit(c.get('em'), {
      organization: org,
      activity: 'Account restored',
      account: org.name,
      description: `Removal of ${org.name} cancelled`,
      actor: actor(c),
    });
    return redirectWithFlash(c, deps, '/settings/account', 'The account is restored.');
  });

  return app;
}
